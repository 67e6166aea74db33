using System.Diagnostics.Metrics;

namespace ConfusionMatrix.Grains;

/// <summary>
/// Every instrument of the project, created once from the host's <see cref="IMeterFactory"/> so that the
/// OpenTelemetry exporter sees a single meter, <see cref="MeterName"/>.
/// </summary>
public sealed class ConfusionMatrixInstruments
{
    public const string MeterName = "ConfusionMatrix.Actors";

    private readonly Counter<long> _accepted;
    private readonly Counter<long> _rejected;
    private readonly Counter<long> _ignoredDimensions;
    private readonly Counter<long> _segmentBatches;
    private readonly Histogram<double> _routeDuration;

    public ConfusionMatrixInstruments(IMeterFactory meterFactory)
    {
        Meter = meterFactory.Create(MeterName);
        _accepted = Meter.CreateCounter<long>("confusionmatrix.predictions.accepted", "{prediction}", "Predictions counted into segment matrices.");
        _rejected = Meter.CreateCounter<long>("confusionmatrix.predictions.rejected", "{prediction}", "Predictions refused, by reason.");
        _ignoredDimensions = Meter.CreateCounter<long>("confusionmatrix.segments.ignored", "{value}", "Segment values of dimensions the model did not register; the prediction still counts.");
        _segmentBatches = Meter.CreateCounter<long>("confusionmatrix.segment.batches", "{batch}", "Segment sub-batches applied to segment matrices.");
        _routeDuration = Meter.CreateHistogram<double>("confusionmatrix.route.duration", "s", "Time to split one batch and apply it to every segment.");
    }

    public Meter Meter { get; }

    public void Accepted(string model, long count) => _accepted.Add(count, new KeyValuePair<string, object?>("model", model));

    public void Rejected(string reason, long count, string? model = null) =>
        _rejected.Add(count, new KeyValuePair<string, object?>("reason", reason), new KeyValuePair<string, object?>("model", model ?? "unknown"));

    public void IgnoredDimension(string model, long count) => _ignoredDimensions.Add(count, new KeyValuePair<string, object?>("model", model));

    public void SegmentBatchApplied() => _segmentBatches.Add(1);

    public void Routed(TimeSpan elapsed) => _routeDuration.Record(elapsed.TotalSeconds);
}
