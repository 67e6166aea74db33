using Microsoft.Extensions.Logging;

namespace ConfusionMatrix.Grains;

/// <summary>Source-generated log messages. Rejections are audit lines: they name the batch, the reason and the count.</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 1001, Level = LogLevel.Warning, Message = "Audit: rejected {Count} prediction(s) of batch {BatchId} for {Model}/{Version}: {Reason}")]
    public static partial void PredictionsRejected(ILogger logger, string batchId, string model, string version, string reason, int count);

    [LoggerMessage(EventId = 1002, Level = LogLevel.Warning, Message = "Audit: batch {BatchId} for {Model}/{Version} is malformed and was dead-lettered: {Problem}")]
    public static partial void BatchMalformed(ILogger logger, string batchId, string model, string version, string problem);

    [LoggerMessage(EventId = 1003, Level = LogLevel.Information, Message = "Model {Model} registered with {ClassCount} classes and dimensions [{Dimensions}]")]
    public static partial void ModelRegistered(ILogger logger, string model, int classCount, string dimensions);

    [LoggerMessage(EventId = 1004, Level = LogLevel.Information, Message = "Holdout baseline set for {Segment} ({Total} predictions)")]
    public static partial void BaselineSet(ILogger logger, string segment, long total);

    [LoggerMessage(EventId = 1005, Level = LogLevel.Warning, Message = "Segment {Segment} has {Known} classes but batch {BatchId} carries {Incoming}; batch refused")]
    public static partial void ClassCountMismatch(ILogger logger, string segment, int known, int incoming, string batchId);

    [LoggerMessage(EventId = 1006, Level = LogLevel.Debug, Message = "Segment {Segment}: batch {BatchId} already applied, skipped")]
    public static partial void DuplicateBatchSkipped(ILogger logger, string segment, string batchId);

    [LoggerMessage(EventId = 1007, Level = LogLevel.Information, Message = "Segment catalog of {Model}/{Version} is full ({Limit} segments); new segments are counted but not listed")]
    public static partial void CatalogFull(ILogger logger, string model, string version, int limit);

    [LoggerMessage(EventId = 1101, Level = LogLevel.Warning, Message = "Audit: rollout of {Model}: {Action} ({From} -> {To}) by {Actor}: {Reason}")]
    public static partial void RolloutTransition(ILogger logger, string model, string action, string from, string to, string actor, string reason);

    [LoggerMessage(EventId = 1102, Level = LogLevel.Warning, Message = "Drift verdict for {Model}/{Version}/{Segment}: {Decision}: {Reason}")]
    public static partial void DriftAlarm(ILogger logger, string model, string version, string segment, string decision, string reason);

    [LoggerMessage(EventId = 1103, Level = LogLevel.Warning, Message = "Fairness alert for {Model}/{Version} on {Dimension}: {Reason}")]
    public static partial void FairnessAlert(ILogger logger, string model, string version, string dimension, string reason);

    [LoggerMessage(EventId = 1104, Level = LogLevel.Information, Message = "Drift watcher of {Model} starts a new epoch: {Reason}")]
    public static partial void EpochStarted(ILogger logger, string model, string reason);

    [LoggerMessage(EventId = 1105, Level = LogLevel.Warning, Message = "Webhook {Url} failed on attempt {Attempt}: {Problem}")]
    public static partial void WebhookFailed(ILogger logger, string url, int attempt, string problem);

    [LoggerMessage(EventId = 1106, Level = LogLevel.Error, Message = "Webhook {Url} gave up after {Attempts} attempts for {Model} transition {Sequence}")]
    public static partial void WebhookGaveUp(ILogger logger, string url, int attempts, string model, long sequence);

    [LoggerMessage(EventId = 1107, Level = LogLevel.Warning, Message = "Drift watcher state of {Model} is {Bytes} bytes as stored, over the warning size of {WarningBytes}; Azure Table storage refuses states over {LimitBytes} bytes, and then every write of this watcher fails. Put the control store on blobs (ConfusionMatrix:Storage:Stores:control=AzureBlob)")]
    public static partial void DriftStateLarge(ILogger logger, string model, int bytes, int warningBytes, int limitBytes);

    [LoggerMessage(EventId = 1201, Level = LogLevel.Warning, Message = "Audit: label correction for {Model} prediction {PredictionId} (version {Version}): actual {From} -> {To}, source {Source}; the old cell is decremented and the new one incremented")]
    public static partial void LabelCorrected(ILogger logger, string model, string predictionId, string version, string from, string to, string source);

    [LoggerMessage(EventId = 1202, Level = LogLevel.Information, Message = "Audit: stale label for {Model} prediction {PredictionId} ignored: {Class} is older than the applied {Applied}")]
    public static partial void LabelStale(ILogger logger, string model, string predictionId, string @class, string applied);

    [LoggerMessage(EventId = 1203, Level = LogLevel.Warning, Message = "Audit: {Count} label(s) of {Model} orphaned: their prediction did not arrive within the grace period (first: {PredictionId})")]
    public static partial void LabelsOrphaned(ILogger logger, string model, int count, string predictionId);

    [LoggerMessage(EventId = 1204, Level = LogLevel.Warning, Message = "Label-join shard {Shard} is full ({Max} predictions); the {Count} oldest were evicted and count as expired")]
    public static partial void JoinShardFull(ILogger logger, string shard, int max, int count);

    [LoggerMessage(EventId = 1205, Level = LogLevel.Warning, Message = "Label-join shard {Shard} could not deliver sequence {Sequence} to {Segment}: {Error}; it is kept and sent again")]
    public static partial void LabelDeliveryFailed(ILogger logger, string shard, string segment, long sequence, string error);

    [LoggerMessage(EventId = 1206, Level = LogLevel.Warning, Message = "Audit: label batch for {Model} is malformed and was refused: {Problem}")]
    public static partial void LabelBatchMalformed(ILogger logger, string model, string problem);

    [LoggerMessage(EventId = 1301, Level = LogLevel.Information, Message = "Audit {Model} #{Sequence}: {Principal} {Action} {Target} -> {Status}")]
    public static partial void Audited(ILogger logger, string model, long sequence, string principal, string action, string target, int status);

    [LoggerMessage(EventId = 1302, Level = LogLevel.Error, Message = "Audit record for {Model} {Action} by {Principal} could not be stored: {Error}")]
    public static partial void AuditFailed(ILogger logger, string model, string action, string principal, string error);

    [LoggerMessage(EventId = 1303, Level = LogLevel.Warning, Message = "Webhook to {Url} dropped ({Reason}): {Detail}")]
    public static partial void WebhookDropped(ILogger logger, string url, string reason, string detail);

    [LoggerMessage(EventId = 1304, Level = LogLevel.Warning, Message = "Quality gauges hold {MaxSeries} series: {Model}/{Version}/{Segment} and later ones are not published (confusionmatrix_metrics_series_dropped_total counts them). Fewer segments or versions in play, or a shorter expiry, bring them back; logged once")]
    public static partial void SeriesCapReached(ILogger logger, int maxSeries, string model, string version, string segment);
}
