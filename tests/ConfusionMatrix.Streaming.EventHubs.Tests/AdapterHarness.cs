using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Text;
using Azure.Messaging.EventHubs;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Logging;
using Orleans.Providers.Streams.Common;
using Orleans.Serialization;

namespace ConfusionMatrix.Streaming.EventHubs.Tests;

/// <summary>
/// The adapter over a real Orleans serializer and its own meter, driven the way Orleans' EventHubQueueCache drives it:
/// GetStreamPosition, FromQueueMessage into a cache segment, then GetBatchContainer at delivery.
/// </summary>
internal sealed class AdapterHarness : IDisposable
{
    public static readonly DateTimeOffset Enqueued = new(2026, 11, 26, 10, 0, 0, TimeSpan.Zero);

    private readonly ServiceProvider _services;
    private readonly MetricCollector<long> _rejected;

    public AdapterHarness()
    {
        _services = new ServiceCollection().AddSerializer().AddMetrics().BuildServiceProvider();
        Metrics = new EventHubIngestionMetrics(_services.GetRequiredService<IMeterFactory>());
        Adapter = new PredictionLogEventHubDataAdapter(_services.GetRequiredService<Serializer>(), Metrics, Logger);
        _rejected = new MetricCollector<long>(Metrics.Meter, EventHubIngestionMetrics.RejectedInstrumentName);
    }

    public EventHubIngestionMetrics Metrics { get; }

    public CapturingLogger Logger { get; } = new();

    public PredictionLogEventHubDataAdapter Adapter { get; }

    /// <summary>Rejections counted on the meter, by reason.</summary>
    public IReadOnlyDictionary<string, long> Rejected => RejectedByReason(_rejected);

    /// <summary>A rejection counter's measurements summed by their <c>reason</c> tag.</summary>
    public static Dictionary<string, long> RejectedByReason(MetricCollector<long> rejected) =>
        rejected.GetMeasurementSnapshot()
            .GroupBy(m => (string)m.Tags["reason"]!, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.Sum(m => m.Value), StringComparer.Ordinal);

    public static EventData Event(string body, long sequenceNumber = 42, string? contentType = null, IDictionary<string, object>? properties = null, DateTimeOffset? enqueued = null) =>
        Event(Encoding.UTF8.GetBytes(body), sequenceNumber, contentType, properties, enqueued);

    public static EventData Event(byte[] body, long sequenceNumber = 42, string? contentType = null, IDictionary<string, object>? properties = null, DateTimeOffset? enqueued = null)
    {
        var eventData = EventHubsModelFactory.EventData(
            eventBody: new BinaryData(body),
            properties: properties ?? new Dictionary<string, object>(),
            systemProperties: null,
            partitionKey: null,
            sequenceNumber: sequenceNumber,
            offsetString: (sequenceNumber * 100).ToString(System.Globalization.CultureInfo.InvariantCulture),
            enqueuedTime: enqueued ?? Enqueued);
        if (contentType is not null)
        {
            eventData.ContentType = contentType;
        }

        return eventData;
    }

    public static Dictionary<string, object> Names(string model, string version) => new() { ["model"] = model, ["version"] = version };

    public (PredictionLogBatchContainer Container, CachedMessage Cached) Deliver(EventData eventData, string partition = "3")
    {
        var position = Adapter.GetStreamPosition(partition, eventData);
        var cached = Adapter.FromQueueMessage(position, eventData, DateTime.UtcNow, size => new ArraySegment<byte>(new byte[size]));
        Assert.Equal(position.StreamId, cached.StreamId);
        var container = Assert.IsType<PredictionLogBatchContainer>(Adapter.GetBatchContainer(ref cached));
        return (container, cached);
    }

    public void Dispose()
    {
        _rejected.Dispose();
        _services.Dispose();
    }
}

internal sealed class CapturingLogger : ILogger<PredictionLogEventHubDataAdapter>
{
    public ConcurrentQueue<string> Lines { get; } = new();

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
        Lines.Enqueue($"{logLevel}: {formatter(state, exception)}");
}
