using System.Text.Json;
using System.Text.Json.Serialization;
using ConfusionMatrix.Core;

namespace ConfusionMatrix.Cli.Evaluation;

// The JSON shape of the silo's GET …/segments/{segment}/matrix answer (src/ConfusionMatrix.Silo/Api/ApiModels.cs), so a
// pipeline can read offline and live matrices with the same code.
public sealed record ClassMetricsReport(long Tp, long Fp, long Fn, long Tn, double Precision, double Recall, double F1, long Support);

public sealed record AveragesReport(double Precision, double Recall, double F1);

public sealed record LabelLatencyReport(double? P50Seconds, double? P90Seconds, double? P99Seconds, IReadOnlyList<double?> BucketUpperBoundsSeconds, IReadOnlyList<long> Counts);

/// <summary>
/// Label coverage as the silo reports it. Offline every evaluated record carries its label, so nothing is pending or
/// expired and label latency is unknown (no label times in the file).
/// </summary>
public sealed record LabelCoverageReport(long Labelled, long Pending, long Expired, double? Coverage, IReadOnlyDictionary<string, long> PendingByPredicted, LabelLatencyReport Latency);

public sealed record MetricsReport(
    double Accuracy,
    double BalancedAccuracy,
    double Mcc,
    double CohenKappa,
    IReadOnlyDictionary<string, ClassMetricsReport> PerClass,
    AveragesReport Macro,
    AveragesReport Micro,
    AveragesReport Weighted);

/// <summary>One segment's matrix and metrics. <see cref="BatchesApplied"/> is always 0 offline (no batches were applied).</summary>
public sealed record MatrixReport(
    string Model,
    string Version,
    string Segment,
    string Window,
    IReadOnlyList<string> Classes,
    long[][] Counts,
    long Total,
    MetricsReport Metrics,
    DateTimeOffset AsOf,
    long BatchesApplied,
    IReadOnlyDictionary<string, long> PredictedDistribution,
    LabelCoverageReport Labels)
{
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    };

    public static MatrixReport Create(string model, string version, string segment, IReadOnlyList<string> classes, ConfusionCounts counts, DateTimeOffset asOf)
    {
        var m = MetricsCalculator.Compute(counts);
        var perClass = new Dictionary<string, ClassMetricsReport>(StringComparer.Ordinal);
        for (var i = 0; i < m.PerClass.Count; i++)
        {
            var c = m.PerClass[i];
            perClass[classes[i]] = new ClassMetricsReport(c.Tp, c.Fp, c.Fn, c.Tn, c.Precision, c.Recall, c.F1, c.Support);
        }

        var metrics = new MetricsReport(
            m.Accuracy,
            m.BalancedAccuracy,
            m.Mcc,
            m.CohenKappa,
            perClass,
            new AveragesReport(m.Macro.Precision, m.Macro.Recall, m.Macro.F1),
            new AveragesReport(m.Micro.Precision, m.Micro.Recall, m.Micro.F1),
            new AveragesReport(m.Weighted.Precision, m.Weighted.Recall, m.Weighted.F1));
        var distribution = new Dictionary<string, long>(StringComparer.Ordinal);
        var pending = new Dictionary<string, long>(StringComparer.Ordinal);
        for (var c = 0; c < classes.Count; c++)
        {
            distribution[classes[c]] = counts.ColumnTotal(c);
            pending[classes[c]] = 0;
        }

        var latency = new LabelLatencyReport(
            null,
            null,
            null,
            [.. LabelStatusWindows.LatencyBucketUpperBounds.Select(b => (double?)b.TotalSeconds), null],
            new long[LabelStatusWindows.LatencyBucketCount]);
        var labels = new LabelCoverageReport(counts.Total, 0, 0, counts.Total == 0 ? null : 1.0, pending, latency);
        return new MatrixReport(model, version, segment, "all", classes, counts.ToRows(), counts.Total, metrics, asOf, 0, distribution, labels);
    }
}
