using Microsoft.Extensions.Logging;

namespace ConfusionMatrix.Streaming.EventHubs;

internal static partial class Log
{
    [LoggerMessage(EventId = 4100, Level = LogLevel.Warning,
        Message = "Event Hubs audit: partition {Partition} sequence {Sequence} offset {Offset} stream {Stream}: {Accepted} records kept, {Rejected} left out ({Reasons}); first: {FirstProblem}")]
    public static partial void RecordsRejected(ILogger logger, string partition, long sequence, string offset, string stream, int accepted, int rejected, string reasons, string firstProblem);

    [LoggerMessage(EventId = 4101, Level = LogLevel.Error,
        Message = "Event Hubs event sequence {Sequence} reached the cache without a parsed position; it was parsed again without its partition")]
    public static partial void ParsedWithoutPosition(ILogger logger, long sequence);
}
