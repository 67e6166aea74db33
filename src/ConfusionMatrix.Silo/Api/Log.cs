namespace ConfusionMatrix.Silo.Api;

internal static partial class Log
{
    [LoggerMessage(EventId = 2001, Level = LogLevel.Warning, Message = "Audit: prediction {Index} ({PredictionId}) rejected: {Reason}: {Detail}")]
    public static partial void PredictionRejected(ILogger logger, int index, string predictionId, string reason, string detail);

    [LoggerMessage(EventId = 2002, Level = LogLevel.Warning, Message = "Audit: request refused with {Status}: {Detail}")]
    public static partial void RequestRefused(ILogger logger, int status, string detail);
}
