using System.Collections.Concurrent;
using System.Globalization;
using Azure.Messaging.EventHubs;
using Orleans.Streaming.EventHubs.Testing;

namespace ConfusionMatrix.Streaming.EventHubs.Tests;

/// <summary>One raw event as a producer that knows nothing of Orleans would send it: bytes, a content type, application properties.</summary>
internal sealed record RawEvent(BinaryData Body, string? ContentType, IReadOnlyDictionary<string, object> Properties);

/// <summary>Events a test has queued for a stream, and whether a generator has been placed on a partition to send them.</summary>
internal sealed class RawEventScript
{
    private static readonly ConcurrentDictionary<StreamId, RawEventScript> Scripts = new();

    public ConcurrentQueue<RawEvent> Pending { get; } = new();

    public int Sent => Volatile.Read(ref _sent);

    public bool Placed => Volatile.Read(ref _placed) == 1;

    private int _sent;
    private int _placed;

    public static RawEventScript For(StreamId streamId) => Scripts.GetOrAdd(streamId, _ => new RawEventScript());

    public void MarkPlaced() => Interlocked.Exchange(ref _placed, 1);

    public void MarkSent() => Interlocked.Increment(ref _sent);
}

/// <summary>
/// The stream data generator placed on a simulated partition: it sends the script's raw events, each with the
/// partition's next sequence number and offset and the current enqueue time, exactly as the Event Hubs service stamps them.
/// </summary>
internal sealed class RawJsonEventGenerator : IStreamDataGenerator<EventData>
{
    private readonly RawEventScript _script;
    private bool _shouldProduce = true;

    public RawJsonEventGenerator(StreamId streamId)
    {
        StreamId = streamId;
        _script = RawEventScript.For(streamId);
        _script.MarkPlaced();
    }

    public StreamId StreamId { get; }

    public IIntCounter SequenceNumberCounter { private get; set; } = null!;

    public bool ShouldProduce
    {
        set => _shouldProduce = value;
    }

    public bool TryReadEvents(int maxCount, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out IEnumerable<EventData>? events)
    {
        var read = new List<EventData>();
        while (_shouldProduce && read.Count < maxCount && _script.Pending.TryDequeue(out var raw))
        {
            SequenceNumberCounter.Increment();
            var sequence = SequenceNumberCounter.Value;
            var eventData = EventHubsModelFactory.EventData(
                eventBody: raw.Body,
                properties: new Dictionary<string, object>(raw.Properties),
                systemProperties: null,
                partitionKey: null,
                sequenceNumber: sequence,
                offsetString: (sequence * 1000L).ToString(CultureInfo.InvariantCulture),
                enqueuedTime: DateTimeOffset.UtcNow);
            if (raw.ContentType is not null)
            {
                eventData.ContentType = raw.ContentType;
            }

            read.Add(eventData);
            _script.MarkSent();
        }

        events = read;
        return read.Count > 0;
    }
}
