namespace ConfusionMatrix.Silo.Api;

internal static partial class Log
{
    [LoggerMessage(EventId = 2001, Level = LogLevel.Warning, Message = "Audit: prediction {Index} ({PredictionId}) rejected: {Reason}: {Detail}")]
    public static partial void PredictionRejected(ILogger logger, int index, string predictionId, string reason, string detail);

    [LoggerMessage(EventId = 2002, Level = LogLevel.Warning, Message = "Audit: request refused with {Status}: {Detail}")]
    public static partial void RequestRefused(ILogger logger, int status, string detail);

    [LoggerMessage(EventId = 2101, Level = LogLevel.Warning, Message = "Demo: model {Model} registered, stable v1, canary v2 at 30%; v2 loses 15% of its fraud recall on region=EU. Watch /api/v1/models/fraud-demo/rollout, /api/v1/models/fraud-demo/drift, /dashboard/ and /metrics")]
    public static partial void DemoStarted(ILogger logger, string model);

    [LoggerMessage(EventId = 2102, Level = LogLevel.Warning, Message = "Demo: {Sent} predictions sent; rollout {Phase}, canary weight {Weight}%; last transition: {Last}")]
    public static partial void DemoProgress(ILogger logger, long sent, string phase, int weight, string last);
}
