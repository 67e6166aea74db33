using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using ConfusionMatrix.Abstractions;
using Microsoft.Extensions.Logging;

namespace ConfusionMatrix.Grains;

/// <summary>
/// The latest judged quality of every watched (version, segment) as Prometheus gauges: per-class recall and precision of
/// the live evidence, the smoothed KL against its reference, and the live sample size. Fed by the drift watchers of this
/// silo; a series not refreshed for <see cref="Expiry"/> disappears (its watcher moved, or the version left play).
/// </summary>
public sealed class ModelQualityGauges
{
    /// <summary>Series kept at most; labels come from registered models and catalogued segments, but a bound is still due.</summary>
    public const int MaxSeries = 20_000;

    internal static readonly TimeSpan Expiry = TimeSpan.FromMinutes(10);

    private readonly ConcurrentDictionary<(string Model, string Version, string Segment, string Class, string Metric), (double Value, DateTimeOffset At)> _classMetrics = new();
    private readonly ConcurrentDictionary<(string Model, string Version, string Segment, string Metric), (double Value, DateTimeOffset At)> _segmentMetrics = new();
    private readonly ApplicationClock _clock;
    private readonly ConfusionMatrixInstruments _instruments;
    private readonly ILogger<ModelQualityGauges> _logger;
    private int _capLogged;

    public ModelQualityGauges(ConfusionMatrixInstruments instruments, ApplicationClock clock, ILogger<ModelQualityGauges> logger)
    {
        _clock = clock;
        _instruments = instruments;
        _logger = logger;
        instruments.Meter.CreateObservableGauge("confusionmatrix.model.class_quality", ObserveClassMetrics, null,
            "Recall or precision of one class over the live evidence of a (version, segment), as last judged.");
        instruments.Meter.CreateObservableGauge("confusionmatrix.model.segment_drift", ObserveSegmentMetrics, null,
            "Smoothed KL(live || reference) in nats, and the live and reference sample sizes, as last judged.");
    }

    public void Publish(DriftVerdict verdict)
    {
        var at = _clock.GetUtcNow();
        if (_classMetrics.Count + _segmentMetrics.Count >= MaxSeries)
        {
            Expire(at);
            if (_classMetrics.Count + _segmentMetrics.Count >= MaxSeries)
            {
                // Counted every time, logged once per process: the log says what to do, the counter how often.
                _instruments.SeriesDropped("confusionmatrix.model.class_quality", verdict.ClassDeltas.Length);
                _instruments.SeriesDropped("confusionmatrix.model.segment_drift", 3);
                if (Interlocked.Exchange(ref _capLogged, 1) == 0)
                {
                    Log.SeriesCapReached(_logger, MaxSeries, verdict.Model, verdict.Version, verdict.Segment);
                }

                return;
            }
        }

        foreach (var delta in verdict.ClassDeltas)
        {
            _classMetrics[(verdict.Model, verdict.Version, verdict.Segment, delta.Class, delta.Metric)] = (delta.Live, at);
        }

        _segmentMetrics[(verdict.Model, verdict.Version, verdict.Segment, "kl")] = (verdict.Kl, at);
        _segmentMetrics[(verdict.Model, verdict.Version, verdict.Segment, "live_total")] = (verdict.LiveTotal, at);
        _segmentMetrics[(verdict.Model, verdict.Version, verdict.Segment, "reference_total")] = (verdict.ReferenceTotal, at);
    }

    private IEnumerable<Measurement<double>> ObserveClassMetrics()
    {
        Expire(_clock.GetUtcNow());
        foreach (var ((model, version, segment, cls, metric), (value, _)) in _classMetrics)
        {
            yield return new Measurement<double>(value,
                new KeyValuePair<string, object?>("model", model),
                new KeyValuePair<string, object?>("version", version),
                new KeyValuePair<string, object?>("segment", segment),
                new KeyValuePair<string, object?>("class", cls),
                new KeyValuePair<string, object?>("metric", metric));
        }
    }

    private IEnumerable<Measurement<double>> ObserveSegmentMetrics()
    {
        foreach (var ((model, version, segment, metric), (value, _)) in _segmentMetrics)
        {
            yield return new Measurement<double>(value,
                new KeyValuePair<string, object?>("model", model),
                new KeyValuePair<string, object?>("version", version),
                new KeyValuePair<string, object?>("segment", segment),
                new KeyValuePair<string, object?>("metric", metric));
        }
    }

    private void Expire(DateTimeOffset now)
    {
        foreach (var (key, (_, at)) in _classMetrics)
        {
            if (now - at > Expiry)
            {
                _classMetrics.TryRemove(key, out _);
            }
        }

        foreach (var (key, (_, at)) in _segmentMetrics)
        {
            if (now - at > Expiry)
            {
                _segmentMetrics.TryRemove(key, out _);
            }
        }
    }
}
