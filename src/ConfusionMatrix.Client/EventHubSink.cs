using System.Buffers;
using System.Globalization;
using System.Text.Json;
using Azure.Messaging.EventHubs;
using Azure.Messaging.EventHubs.Producer;

namespace ConfusionMatrix.Client;

/// <summary>Sends one event with a partition key; the seam between <see cref="EventHubSink"/> and the Event Hubs SDK.</summary>
public interface IEventDataSender
{
    Task SendAsync(EventData eventData, string partitionKey, CancellationToken cancellationToken);
}

/// <summary>The real sender over an <see cref="EventHubProducerClient"/> (whose own retry policy runs inside each attempt).</summary>
public sealed class EventHubProducerSender(EventHubProducerClient producer) : IEventDataSender
{
    public Task SendAsync(EventData eventData, string partitionKey, CancellationToken cancellationToken) =>
        producer.SendAsync([eventData], new SendEventOptions { PartitionKey = partitionKey }, cancellationToken);
}

/// <summary>
/// Writes each batch as ONE Event Hubs event in the raw format a non-Orleans data adapter reads: the body is a JSON
/// array of predictions in the silo's HTTP format, content type <c>application/json</c>, application properties
/// <c>model</c>, <c>version</c>, <c>producerId</c> and <c>sequence</c>, and partition key <c>{model}/{version}</c> so a
/// stream's batches stay ordered in one partition. The message id is <c>{producerId}:{sequence}</c>.
/// A batch larger than the hub accepts is refused permanently (dropped and counted): keep BatchSize so that a batch's
/// JSON stays under the tier's event size limit (about 1000 predictions with a few segments fit in 1 MB).
/// </summary>
public sealed class EventHubSink : IPredictionSink
{
    public const string ContentType = "application/json";

    private readonly IEventDataSender _sender;

    public EventHubSink(EventHubProducerClient producer)
        : this(new EventHubProducerSender(producer))
    {
    }

    public EventHubSink(IEventDataSender sender)
    {
        ArgumentNullException.ThrowIfNull(sender);
        _sender = sender;
    }

    public async Task SendAsync(SinkBatch batch, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var data = CreateEventData(batch);
        try
        {
            await _sender.SendAsync(data, batch.StreamKey, cancellationToken).ConfigureAwait(false);
        }
        catch (EventHubsException ex) when (ex.Reason == EventHubsException.FailureReason.MessageSizeExceeded)
        {
            throw new NonRetryableSinkException($"Batch {batch.ProducerId}:{batch.Sequence} of {batch.StreamKey} ({data.EventBody.ToMemory().Length} bytes) exceeds the Event Hub's event size limit.", ex);
        }
    }

    /// <summary>Builds the event for a batch; public so other transports can reuse the raw format.</summary>
    public static EventData CreateEventData(SinkBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var data = new EventData(SerializeBody(batch))
        {
            ContentType = ContentType,
            MessageId = $"{batch.ProducerId}:{batch.Sequence}",
        };
        data.Properties["model"] = batch.Model;
        data.Properties["version"] = batch.Version;
        data.Properties["producerId"] = batch.ProducerId;
        data.Properties["sequence"] = batch.Sequence;
        return data;
    }

    /// <summary>The JSON array of predictions in the HTTP format.</summary>
    public static BinaryData SerializeBody(SinkBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var buffer = new ArrayBufferWriter<byte>(256 * Math.Max(batch.Count, 1));
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartArray();
            foreach (var p in batch.Predictions)
            {
                json.WriteStartObject();
                json.WriteString("predictionId", p.PredictionId);
                json.WriteString("model", p.Model);
                json.WriteString("version", p.Version);
                json.WriteString("predicted", p.Predicted);
                if (p.Actual is not null)
                {
                    json.WriteString("actual", p.Actual);
                }
                if (p.Score is { } score)
                {
                    json.WriteNumber("score", score);
                }

                json.WriteString("timestamp", p.Timestamp!.Value.UtcDateTime.ToString("O", CultureInfo.InvariantCulture));
                if (p.Segments is { Count: > 0 } segments)
                {
                    json.WriteStartObject("segments");
                    foreach (var (dimension, value) in segments)
                    {
                        json.WriteString(dimension, value);
                    }

                    json.WriteEndObject();
                }

                json.WriteEndObject();
            }

            json.WriteEndArray();
        }

        return new BinaryData(buffer.WrittenMemory.ToArray());
    }
}
