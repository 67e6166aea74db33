using ConfusionMatrix.Core;

namespace ConfusionMatrix.Api.Contracts;

public sealed record RegisterModelRequest(string? Model, List<string>? Classes, string? PositiveClass, List<string>? SegmentDimensions, TimeSpan? LabelTtl = null, TimeSpan? LabelGracePeriod = null);

public sealed record ModelResponse(string Model, IReadOnlyList<string> Classes, string? PositiveClass, IReadOnlyList<string> SegmentDimensions, DateTimeOffset UpdatedAt, TimeSpan LabelTtl, TimeSpan LabelGracePeriod);

public sealed record ModelCatalogResponse(ModelResponse Definition, IReadOnlyDictionary<string, IReadOnlyList<string>> Versions);

public sealed record PredictionRejection(int Index, string? PredictionId, string Reason, string Detail);

public sealed record PredictionsResponse(int Accepted, int RejectedCount, IReadOnlyList<PredictionRejection> Rejected);

/// <summary>The answer to a label request: like the prediction intake's, plus what became of the accepted labels.</summary>
public sealed record LabelsResponse(int Accepted, int RejectedCount, IReadOnlyList<PredictionRejection> Rejected, IReadOnlyDictionary<string, int> Outcomes);

/// <summary>
/// What is known about labels in a matrix's window: labelled predictions (the matrix), predictions still waiting for
/// their label, those whose label never came, coverage = labelled / all, and label latency (time from event to first
/// label) as quantiles and histogram bucket counts with their upper edges in seconds (the last is unbounded).
/// </summary>
public sealed record LabelCoverageResponse(
    long Labelled,
    long Pending,
    long Expired,
    double? Coverage,
    IReadOnlyDictionary<string, long> PendingByPredicted,
    LabelLatencyResponse Latency);

public sealed record LabelLatencyResponse(double? P50Seconds, double? P90Seconds, double? P99Seconds, IReadOnlyList<double?> BucketUpperBoundsSeconds, IReadOnlyList<long> Counts);

/// <summary>Label-join counters of a model, summed over its shards.</summary>
public sealed record LabelStatsResponse(
    string Model,
    long Pending,
    long LabelledCorrectable,
    long BufferedLabels,
    long Applied,
    long Duplicates,
    long Corrections,
    long Stale,
    long Orphaned,
    long Expired,
    long Evicted,
    long DeliveriesOutstanding,
    TimeSpan LabelTtl,
    TimeSpan LabelGracePeriod);

public sealed record ClassMetricsResponse(long Tp, long Fp, long Fn, long Tn, double Precision, double Recall, double F1, long Support);

public sealed record AveragesResponse(double Precision, double Recall, double F1);

public sealed record MetricsResponse(
    double Accuracy,
    double BalancedAccuracy,
    double Mcc,
    double CohenKappa,
    IReadOnlyDictionary<string, ClassMetricsResponse> PerClass,
    AveragesResponse Macro,
    AveragesResponse Micro,
    AveragesResponse Weighted)
{
    /// <summary>Metrics keyed by class name (the calculator knows only indices); the silo's answers and cmx's offline reports both use it.</summary>
    public static MetricsResponse From(MatrixMetrics m, IReadOnlyList<string> classes)
    {
        var perClass = new Dictionary<string, ClassMetricsResponse>(StringComparer.Ordinal);
        for (var i = 0; i < m.PerClass.Count; i++)
        {
            var c = m.PerClass[i];
            perClass[classes[i]] = new ClassMetricsResponse(c.Tp, c.Fp, c.Fn, c.Tn, c.Precision, c.Recall, c.F1, c.Support);
        }

        return new MetricsResponse(
            m.Accuracy,
            m.BalancedAccuracy,
            m.Mcc,
            m.CohenKappa,
            perClass,
            new AveragesResponse(m.Macro.Precision, m.Macro.Recall, m.Macro.F1),
            new AveragesResponse(m.Micro.Precision, m.Micro.Recall, m.Micro.F1),
            new AveragesResponse(m.Weighted.Precision, m.Weighted.Recall, m.Weighted.F1));
    }
}

public sealed record MatrixResponse(
    string Model,
    string Version,
    string Segment,
    string Window,
    IReadOnlyList<string> Classes,
    long[][] Counts,
    long Total,
    MetricsResponse Metrics,
    DateTimeOffset AsOf,
    long BatchesApplied,
    IReadOnlyDictionary<string, long> PredictedDistribution,
    LabelCoverageResponse Labels);

public sealed record BaselineRequest(List<List<long>>? Counts, MLflowBaselineRequest? Mlflow = null);

/// <summary>A baseline kept in MLflow: registered model plus alias or version; the run's confusion_matrix.json is read.</summary>
public sealed record MLflowBaselineRequest(string? Model, string? Alias, string? Version);

public sealed record BaselineResponse(string Model, string Version, string Segment, string Kind, IReadOnlyList<string> Classes, long[][]? Counts, long Total, DateTimeOffset? SetAt);
