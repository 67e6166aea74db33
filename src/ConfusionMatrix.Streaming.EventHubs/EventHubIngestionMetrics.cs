using System.Diagnostics.Metrics;

namespace ConfusionMatrix.Streaming.EventHubs;

/// <summary>
/// Counters of the Event Hubs ingestion path, on the project's meter. Created from the host's <see cref="IMeterFactory"/>
/// (the factory hands back the same <see cref="Meter"/> the grains' instruments use, so /metrics sees one meter).
/// </summary>
public sealed class EventHubIngestionMetrics
{
    /// <summary>The project's meter; equal to ConfusionMatrixInstruments.MeterName in the grains assembly.</summary>
    public const string MeterName = "ConfusionMatrix.Actors";

    public const string RejectedInstrumentName = "confusionmatrix.eventhubs.rejected";

    public const string EventsInstrumentName = "confusionmatrix.eventhubs.events";

    private readonly Counter<long> _rejected;
    private readonly Counter<long> _events;

    public EventHubIngestionMetrics(IMeterFactory meterFactory)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        Meter = meterFactory.Create(MeterName);
        _rejected = Meter.CreateCounter<long>(RejectedInstrumentName, "{record}", "Event Hubs records (or whole events, for 'malformed' bodies) left out of the prediction batch, by reason.");
        _events = Meter.CreateCounter<long>(EventsInstrumentName, "{event}", "Event Hubs events turned into prediction batches, by partition.");
    }

    public Meter Meter { get; }

    public void Rejected(string reason, long count) =>
        _rejected.Add(count, new KeyValuePair<string, object?>("reason", reason));

    public void Event(string partition) =>
        _events.Add(1, new KeyValuePair<string, object?>("partition", partition));
}

/// <summary>Rejection reasons that only the Event Hubs path produces; the others are <see cref="Abstractions.RejectionReasons"/>.</summary>
public static class EventHubRejectionReasons
{
    /// <summary>A record names another model or version than the event it travels in.</summary>
    public const string MixedVersion = "mixed_version";
}
