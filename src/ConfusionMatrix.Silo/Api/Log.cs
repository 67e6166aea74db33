namespace ConfusionMatrix.Silo.Api;

internal static partial class Log
{
    [LoggerMessage(EventId = 2001, Level = LogLevel.Warning, Message = "Audit: prediction {Index} ({PredictionId}) rejected: {Reason}: {Detail}")]
    public static partial void PredictionRejected(ILogger logger, int index, string predictionId, string reason, string detail);

    [LoggerMessage(EventId = 2002, Level = LogLevel.Warning, Message = "Audit: request refused with {Status}: {Detail}")]
    public static partial void RequestRefused(ILogger logger, int status, string detail);

    [LoggerMessage(EventId = 2003, Level = LogLevel.Warning, Message = "Enqueue of batch {BatchId} to {StreamKey} failed (attempt {Attempt}), retrying with the same sequence: {Problem}")]
    public static partial void PublishRetry(ILogger logger, string batchId, string streamKey, int attempt, string problem);

    [LoggerMessage(EventId = 2005, Level = LogLevel.Warning, Message = "Audit: label {Index} ({PredictionId}) rejected: {Reason}: {Detail}")]
    public static partial void LabelRejected(ILogger logger, int index, string predictionId, string reason, string detail);

    [LoggerMessage(EventId = 2006, Level = LogLevel.Error, Message = "Audit: {Count} label(s) for {Model} could not be stored and were answered as unavailable: {Problem}")]
    public static partial void LabelsUnavailable(ILogger logger, string model, int count, string problem);

    [LoggerMessage(EventId = 2004, Level = LogLevel.Error, Message = "Audit: {Count} prediction(s) for {StreamKey} could not be enqueued and were answered as unavailable: {Problem}")]
    public static partial void PublishFailed(ILogger logger, string streamKey, int count, string problem);

    [LoggerMessage(EventId = 2201, Level = LogLevel.Error, Message = "Audit record for {Model} {Action} by {Principal} could not be stored: {Error}")]
    public static partial void AuditFailed(ILogger logger, string model, string action, string principal, string error);
}
