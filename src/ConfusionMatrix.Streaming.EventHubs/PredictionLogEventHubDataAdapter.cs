using System.Buffers;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text.Json;
using Azure.Messaging.EventHubs;
using ConfusionMatrix.Abstractions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Orleans.Providers.Streams.Common;
using Orleans.Serialization;
using Orleans.Streaming.EventHubs;
using Orleans.Streams;

namespace ConfusionMatrix.Streaming.EventHubs;

/// <summary>
/// Data adapter of the Event Hubs stream provider for the prediction log. Producers that know nothing of Orleans write
/// events whose body is a JSON array or NDJSON of predictions in the HTTP API's format; each event becomes ONE
/// <see cref="PredictionBatch"/> on stream <c>prediction-log/{model}/{version}</c>, numbered
/// <c>eventhubs:{partition}</c> / the event's sequence number so that a replay after a checkpoint restore carries the
/// same batch id. The body is parsed once, when the receiver adds the event to the cache; the cache holds the compact
/// Orleans-serialized batch. Bad records are left out and counted; a body that is not JSON becomes an empty batch.
/// Nothing here throws on input, so a poison event never stops its partition.
/// </summary>
public sealed class PredictionLogEventHubDataAdapter : IEventHubDataAdapter
{
    /// <summary>Stream namespace of events that name no usable model/version. Nothing subscribes to it.</summary>
    public const string UnroutableNamespace = "prediction-log-unroutable";

    private readonly Serializer _serializer;
    private readonly EventHubIngestionMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;

    // The cache calls GetStreamPosition (which knows the partition) and then FromQueueMessage for the same EventData.
    private readonly ConditionalWeakTable<EventData, ParsedEvent> _parsed = [];

    public PredictionLogEventHubDataAdapter(
        Serializer serializer,
        EventHubIngestionMetrics metrics,
        ILogger<PredictionLogEventHubDataAdapter>? logger = null,
        TimeProvider? time = null)
    {
        _serializer = serializer ?? throw new ArgumentNullException(nameof(serializer));
        _metrics = metrics ?? throw new ArgumentNullException(nameof(metrics));
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        _time = time ?? TimeProvider.System;
    }

    public static string ProducerIdFor(string partition) => $"eventhubs:{partition}";

    public StreamPosition GetStreamPosition(string partition, EventData queueMessage)
    {
        var parsed = PredictionEventParser.Parse(queueMessage, partition, _time.GetUtcNow());
        Account(partition, queueMessage, parsed);
        _parsed.AddOrUpdate(queueMessage, parsed);
        return new StreamPosition(parsed.StreamId, new EventHubSequenceTokenV2(queueMessage.OffsetString, queueMessage.SequenceNumber, 0));
    }

    public StreamId GetStreamIdentity(EventData queueMessage) =>
        _parsed.TryGetValue(queueMessage, out var parsed)
            ? parsed.StreamId
            : PredictionEventParser.Parse(queueMessage, "unknown", _time.GetUtcNow()).StreamId;

    public CachedMessage FromQueueMessage(StreamPosition position, EventData queueMessage, DateTime dequeueTime, Func<int, ArraySegment<byte>> getSegment)
    {
        if (!_parsed.TryGetValue(queueMessage, out var parsed))
        {
            Log.ParsedWithoutPosition(_logger, queueMessage.SequenceNumber);
            parsed = PredictionEventParser.Parse(queueMessage, "unknown", _time.GetUtcNow());
        }

        _parsed.Remove(queueMessage);
        var payload = _serializer.SerializeToArray(parsed.Batch);
        var offset = queueMessage.OffsetString;
        var segment = getSegment(SegmentBuilder.CalculateAppendSize(offset) + SegmentBuilder.CalculateAppendSize(payload));
        var write = 0;
        SegmentBuilder.Append(segment, ref write, offset);
        SegmentBuilder.Append(segment, ref write, payload);
        return new CachedMessage
        {
            StreamId = position.StreamId,
            SequenceNumber = queueMessage.SequenceNumber,
            EventIndex = position.SequenceToken.EventIndex,
            EnqueueTimeUtc = queueMessage.EnqueuedTime.UtcDateTime,
            DequeueTimeUtc = dequeueTime,
            Segment = segment,
        };
    }

    public IBatchContainer GetBatchContainer(ref CachedMessage cachedMessage)
    {
        var read = 0;
        var offset = SegmentBuilder.ReadNextString(cachedMessage.Segment, ref read) ?? "";
        var payload = SegmentBuilder.ReadNextBytes(cachedMessage.Segment, ref read);
        var batch = _serializer.Deserialize<PredictionBatch>(payload)
            ?? throw new InvalidOperationException("Cached Event Hubs message holds no prediction batch.");
        return new PredictionLogBatchContainer(
            cachedMessage.StreamId,
            new EventHubSequenceTokenV2(offset, cachedMessage.SequenceNumber, cachedMessage.EventIndex),
            batch);
    }

    public StreamSequenceToken GetSequenceToken(ref CachedMessage cachedMessage) =>
        new EventHubSequenceTokenV2("", cachedMessage.SequenceNumber, cachedMessage.EventIndex);

    public string GetOffset(CachedMessage cachedMessage)
    {
        var read = 0;
        return SegmentBuilder.ReadNextString(cachedMessage.Segment, ref read)
            ?? throw new InvalidOperationException("Cached Event Hubs message is missing its offset.");
    }

    /// <summary>Orleans producers (the HTTP API's publisher) send a version's batches with its stream key as partition key, keeping them in order.</summary>
    public string GetPartitionKey(StreamId streamId) => streamId.GetKeyAsString();

    /// <summary>
    /// Writes batches published through Orleans (the HTTP API) in the same raw NDJSON format external producers use, so
    /// everything on the hub reads alike (for this adapter, Event Hubs Capture or any other consumer).
    /// </summary>
    public EventData ToQueueMessage<T>(StreamId streamId, IEnumerable<T> events, StreamSequenceToken? token, Dictionary<string, object>? requestContext)
    {
        if (token is not null)
        {
            throw new ArgumentException("Event Hubs streams do not accept a StreamSequenceToken from producers.", nameof(token));
        }

        var buffer = new ArrayBufferWriter<byte>();
        string? model = null;
        string? version = null;
        using (var writer = new Utf8JsonWriter(buffer))
        {
            foreach (var item in events)
            {
                if (item is not PredictionBatch batch)
                {
                    throw new ArgumentException($"The prediction log carries {nameof(PredictionBatch)} events, not {item?.GetType().Name ?? "null"}.", nameof(events));
                }

                model ??= batch.Model;
                version ??= batch.Version;
                WriteNdjson(writer, buffer, batch);
            }
        }

        var eventData = new EventData(buffer.WrittenMemory) { ContentType = PredictionEventParser.NdjsonContentType };
        if (model is not null && version is not null)
        {
            eventData.Properties[PredictionEventParser.ModelProperty] = model;
            eventData.Properties[PredictionEventParser.VersionProperty] = version;
        }

        return eventData;
    }

    private static void WriteNdjson(Utf8JsonWriter writer, ArrayBufferWriter<byte> buffer, PredictionBatch batch)
    {
        var dimensions = batch.Dimensions.Length;
        for (var i = 0; i < batch.Count; i++)
        {
            var id = $"{batch.ProducerId}:{batch.Sequence.ToString(CultureInfo.InvariantCulture)}:{i.ToString(CultureInfo.InvariantCulture)}";
            if (id.Length > PredictionLimits.MaxIdLength)
            {
                id = id[^PredictionLimits.MaxIdLength..];
            }

            writer.WriteStartObject();
            writer.WriteString("predictionId", id);
            writer.WriteString("model", batch.Model);
            writer.WriteString("version", batch.Version);
            writer.WriteString("predicted", batch.Labels[batch.Predicted[i]]);
            writer.WriteString("actual", batch.Labels[batch.Actual[i]]);
            writer.WriteString("timestamp", new DateTimeOffset(batch.TimestampUtcTicks[i], TimeSpan.Zero).ToString("O", CultureInfo.InvariantCulture));
            if (dimensions > 0)
            {
                writer.WriteStartObject("segments");
                for (var d = 0; d < dimensions; d++)
                {
                    var value = batch.SegmentValueIndex[(i * dimensions) + d];
                    if (value != PredictionBatch.NoSegmentValue)
                    {
                        writer.WriteString(batch.Dimensions[d], batch.SegmentValues[value]);
                    }
                }

                writer.WriteEndObject();
            }

            writer.WriteEndObject();
            writer.Flush();
            buffer.Write("\n"u8);
            writer.Reset(buffer);
        }
    }

    private void Account(string partition, EventData eventData, ParsedEvent parsed)
    {
        _metrics.Event(partition);
        if (parsed.RejectedByReason.Count == 0)
        {
            return;
        }

        foreach (var (reason, count) in parsed.RejectedByReason)
        {
            _metrics.Rejected(reason, count);
        }

        if (_logger.IsEnabled(LogLevel.Warning))
        {
            var reasons = string.Join(", ", parsed.RejectedByReason.OrderBy(r => r.Key, StringComparer.Ordinal).Select(r => $"{r.Key}={r.Value}"));
            Log.RecordsRejected(_logger, partition, eventData.SequenceNumber, eventData.OffsetString ?? "", parsed.StreamId.ToString(), parsed.Batch.Count, parsed.RejectedCount, reasons, parsed.FirstProblem ?? "-");
        }
    }
}
