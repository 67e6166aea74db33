using System.Diagnostics.Metrics;
using ConfusionMatrix.Abstractions;

namespace ConfusionMatrix.Grains;

/// <summary>
/// Every instrument of the project, created once from the host's <see cref="IMeterFactory"/> so that the
/// OpenTelemetry exporter sees a single meter, <see cref="MeterName"/>.
/// </summary>
public sealed class ConfusionMatrixInstruments
{
    public const string MeterName = "ConfusionMatrix.Actors";

    /// <summary>The activity source of the intake, the routers, the segment grains and the drift watcher.</summary>
    public const string ActivitySourceName = "ConfusionMatrix.Actors";

    public static readonly System.Diagnostics.ActivitySource ActivitySource = new(ActivitySourceName);

    private readonly Counter<long> _accepted;
    private readonly Counter<long> _rejected;
    private readonly Counter<long> _ignoredDimensions;
    private readonly Counter<long> _segmentBatches;
    private readonly Histogram<double> _routeDuration;
    private readonly Counter<long> _rolloutTransitions;
    private readonly Counter<long> _driftVerdicts;
    private readonly Counter<long> _fairnessAlerts;
    private readonly Counter<long> _webhooks;
    private readonly Counter<long> _duplicates;
    private readonly Counter<long> _storageFailures;
    private readonly Counter<long> _deadLetters;
    private readonly Counter<long> _labels;
    private readonly Counter<long> _pending;
    private readonly Counter<long> _expired;
    private readonly Histogram<double> _labelLatency;
    private readonly Counter<long> _webhooksDropped;
    private readonly Counter<long> _httpRefused;
    private readonly Counter<long> _seriesDropped;
    private readonly Counter<long> _stateLarge;

    public ConfusionMatrixInstruments(IMeterFactory meterFactory)
    {
        Meter = meterFactory.Create(MeterName);
        _accepted = Meter.CreateCounter<long>("confusionmatrix.predictions.accepted", "{prediction}", "Predictions counted into segment matrices.");
        _rejected = Meter.CreateCounter<long>("confusionmatrix.predictions.rejected", "{prediction}", "Predictions refused, by reason.");
        _ignoredDimensions = Meter.CreateCounter<long>("confusionmatrix.segments.ignored", "{value}", "Segment values of dimensions the model did not register; the prediction still counts.");
        _segmentBatches = Meter.CreateCounter<long>("confusionmatrix.segment.batches", "{batch}", "Segment sub-batches applied to segment matrices.");
        _rolloutTransitions = Meter.CreateCounter<long>("confusionmatrix.rollout.transitions", "{transition}", "Rollout state changes, by action and resulting phase.");
        _driftVerdicts = Meter.CreateCounter<long>("confusionmatrix.drift.verdicts", "{verdict}", "Drift evaluations of a (version, segment), by decision.");
        _fairnessAlerts = Meter.CreateCounter<long>("confusionmatrix.fairness.alerts", "{alert}", "Evaluations that found an error-rate gap across the segments of a dimension.");
        _webhooks = Meter.CreateCounter<long>("confusionmatrix.webhooks", "{delivery}", "Webhook deliveries, by outcome.");
        _webhooksDropped = Meter.CreateCounter<long>("confusionmatrix.webhook.dropped", "{delivery}", "Webhook deliveries not attempted, by reason: host_not_allowed, private_address, unresolved, no_secret, queue_full.");
        _httpRefused = Meter.CreateCounter<long>("confusionmatrix.http.refused", "{request}", "HTTP requests refused by authentication or authorization, by reason: missing_credentials, invalid_credentials, forbidden.");
        _stateLarge = Meter.CreateCounter<long>("confusionmatrix.storage.state_large", "{write}", "Grain states measured above their store's warning size (the drift watcher's on Azure Table, which refuses states over 960 KiB), by model and state.");
        _seriesDropped = Meter.CreateCounter<long>("confusionmatrix.metrics.series_dropped", "{series}", "Metric series not published because the cardinality cap was reached, by metric.");
        _duplicates = Meter.CreateCounter<long>("confusionmatrix.batches.duplicate", "{batch}", "Segment sub-batches skipped because their producer sequence was already applied.");
        _storageFailures = Meter.CreateCounter<long>("confusionmatrix.storage.failures", "{write}", "Grain state writes that failed; the batch is retried by its sender.");
        _deadLetters = Meter.CreateCounter<long>("confusionmatrix.batches.deadlettered", "{batch}", "Batches refused whole as malformed and kept for inspection.");
        _labels = Meter.CreateCounter<long>("confusionmatrix.labels", "{label}", "Labels by outcome: applied, duplicate, corrected, stale, buffered (prediction not seen yet), orphaned (it never came), unknown_class.");
        _pending = Meter.CreateCounter<long>("confusionmatrix.predictions.pending", "{prediction}", "Predictions logged without their label, now waiting for it.");
        _expired = Meter.CreateCounter<long>("confusionmatrix.predictions.expired", "{prediction}", "Predictions whose label did not arrive within the model's time to live.");
        _labelLatency = Meter.CreateHistogram<double>(
            "confusionmatrix.label.latency",
            "s",
            "Time from a prediction's event time to its first label.",
            tags: null,
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [.. Core.LabelStatusWindows.LatencyBucketUpperBounds.Select(b => b.TotalSeconds)] });
        _routeDuration = Meter.CreateHistogram<double>("confusionmatrix.route.duration", "s", "Time to split one batch and apply it to every segment.");
    }

    public Meter Meter { get; }

    public void Accepted(string model, string version, long count) =>
        _accepted.Add(count, new KeyValuePair<string, object?>("model", model), new KeyValuePair<string, object?>("version", version));

    /// <summary>Model and version are labels only once they are known to exist (registered, routed): caller input must not mint series.</summary>
    public void Rejected(string reason, long count, string? model = null, string kind = "predictions", string? version = null) =>
        _rejected.Add(
            count,
            new KeyValuePair<string, object?>("reason", reason),
            new KeyValuePair<string, object?>("model", model ?? "unknown"),
            new KeyValuePair<string, object?>("kind", kind),
            new KeyValuePair<string, object?>("version", version ?? "unknown"));

    /// <summary>Series a bounded gauge did not publish because its cap was reached.</summary>
    public void SeriesDropped(string metric, long count) => _seriesDropped.Add(count, new KeyValuePair<string, object?>("metric", metric));

    public void Label(string model, LabelOutcome outcome) => Label(model, OutcomeName(outcome));

    public void Label(string model, string outcome) =>
        _labels.Add(1, new KeyValuePair<string, object?>("model", model), new KeyValuePair<string, object?>("outcome", outcome));

    public void PendingPredictions(string model, long count)
    {
        if (count > 0)
        {
            _pending.Add(count, new KeyValuePair<string, object?>("model", model));
        }
    }

    public void ExpiredPredictions(string model, long count) => _expired.Add(count, new KeyValuePair<string, object?>("model", model));

    public void LabelLatency(string model, string version, TimeSpan latency) =>
        _labelLatency.Record(latency.TotalSeconds, new KeyValuePair<string, object?>("model", model), new KeyValuePair<string, object?>("version", version));

    /// <summary>The wire and metric name of a label outcome.</summary>
    public static string OutcomeName(LabelOutcome outcome) => outcome switch
    {
        LabelOutcome.Applied => "applied",
        LabelOutcome.Duplicate => "duplicate",
        LabelOutcome.Corrected => "corrected",
        LabelOutcome.Stale => "stale",
        LabelOutcome.Buffered => "buffered",
        _ => "unknown_class",
    };

    public void IgnoredDimension(string model, long count) => _ignoredDimensions.Add(count, new KeyValuePair<string, object?>("model", model));

    public void SegmentBatchApplied() => _segmentBatches.Add(1);

    public void RolloutTransition(string model, string action, string phase) =>
        _rolloutTransitions.Add(1, new KeyValuePair<string, object?>("model", model), new KeyValuePair<string, object?>("action", action), new KeyValuePair<string, object?>("to", phase));

    public void DriftVerdict(string model, string decision) =>
        _driftVerdicts.Add(1, new KeyValuePair<string, object?>("model", model), new KeyValuePair<string, object?>("decision", decision));

    public void FairnessAlert(string model, string dimension) =>
        _fairnessAlerts.Add(1, new KeyValuePair<string, object?>("model", model), new KeyValuePair<string, object?>("dimension", dimension));

    public void Webhook(string outcome) => _webhooks.Add(1, new KeyValuePair<string, object?>("outcome", outcome));

    public void WebhookDropped(string reason) => _webhooksDropped.Add(1, new KeyValuePair<string, object?>("reason", reason));

    public void HttpRefused(string reason) => _httpRefused.Add(1, new KeyValuePair<string, object?>("reason", reason));

    public void DuplicateSkipped(string kind) => _duplicates.Add(1, new KeyValuePair<string, object?>("kind", kind));

    public void StorageFailed() => _storageFailures.Add(1);

    public void StateLarge(string model, string state) =>
        _stateLarge.Add(1, new KeyValuePair<string, object?>("model", model), new KeyValuePair<string, object?>("state", state));

    public void DeadLettered(string model) => _deadLetters.Add(1, new KeyValuePair<string, object?>("model", model));

    public void Routed(TimeSpan elapsed) => _routeDuration.Record(elapsed.TotalSeconds);
}
