using Microsoft.Extensions.Logging;

namespace ConfusionMatrix.Client;

internal static partial class Log
{
    [LoggerMessage(EventId = 3001, Level = LogLevel.Information, Message = "Prediction logger {ProducerId} started (batch {BatchSize} / {BatchIntervalMs} ms, buffer {MaxBuffered})")]
    public static partial void Started(ILogger logger, string producerId, int batchSize, double batchIntervalMs, int maxBuffered);

    [LoggerMessage(EventId = 3002, Level = LogLevel.Debug, Message = "Prediction {PredictionId} rejected before sending: {Reason}")]
    public static partial void Rejected(ILogger logger, string predictionId, string reason);

    [LoggerMessage(EventId = 3003, Level = LogLevel.Warning, Message = "Prediction buffer is full ({MaxBuffered}); TryLog drops and counts predictions until the sink catches up")]
    public static partial void BufferFull(ILogger logger, int maxBuffered);

    [LoggerMessage(EventId = 3004, Level = LogLevel.Warning, Message = "Sending batch {ProducerId}:{Sequence} ({Count} predictions) of {StreamKey} failed on attempt {Attempt}; retrying the same batch in {DelayMs:F0} ms")]
    public static partial void SendFailed(ILogger logger, Exception exception, string producerId, long sequence, int count, string streamKey, int attempt, double delayMs);

    [LoggerMessage(EventId = 3005, Level = LogLevel.Information, Message = "Batch {ProducerId}:{Sequence} of {StreamKey} went through after {Attempt} attempts")]
    public static partial void SendRecovered(ILogger logger, string producerId, long sequence, string streamKey, int attempt);

    [LoggerMessage(EventId = 3006, Level = LogLevel.Error, Message = "Batch {ProducerId}:{Sequence} of {StreamKey} was refused permanently; {Count} predictions dropped")]
    public static partial void SinkRejected(ILogger logger, Exception exception, string producerId, long sequence, string streamKey, int count);

    [LoggerMessage(EventId = 3007, Level = LogLevel.Error, Message = "Prediction logger {ProducerId} could not drain within {TimeoutMs} ms; {Count} predictions dropped")]
    public static partial void DrainTimedOut(ILogger logger, string producerId, double timeoutMs, long count);

    [LoggerMessage(EventId = 3008, Level = LogLevel.Critical, Message = "Prediction logger {ProducerId} batching loop failed")]
    public static partial void LoopFailed(ILogger logger, Exception exception, string producerId);

    [LoggerMessage(EventId = 3009, Level = LogLevel.Warning, Message = "Silo refused {Count} prediction(s) of batch {BatchId}: {Reason}")]
    public static partial void SiloRejected(ILogger logger, string batchId, string reason, int count);

    [LoggerMessage(EventId = 3010, Level = LogLevel.Information, Message = "Prediction logger {ProducerId} drained and stopped")]
    public static partial void Stopped(ILogger logger, string producerId);
}
