namespace ConfusionMatrix.Silo.Api;

public sealed record RegisterModelRequest(string? Model, List<string>? Classes, string? PositiveClass, List<string>? SegmentDimensions);

public sealed record ModelResponse(string Model, IReadOnlyList<string> Classes, string? PositiveClass, IReadOnlyList<string> SegmentDimensions, DateTimeOffset UpdatedAt);

public sealed record ModelCatalogResponse(ModelResponse Definition, IReadOnlyDictionary<string, IReadOnlyList<string>> Versions);

public sealed record PredictionRejection(int Index, string? PredictionId, string Reason, string Detail);

public sealed record PredictionsResponse(int Accepted, int RejectedCount, IReadOnlyList<PredictionRejection> Rejected);

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
    AveragesResponse Weighted);

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
    long BatchesApplied);

public sealed record BaselineRequest(List<List<long>>? Counts, MLflowBaselineRequest? Mlflow = null);

/// <summary>A baseline kept in MLflow: registered model plus alias or version; the run's confusion_matrix.json is read.</summary>
public sealed record MLflowBaselineRequest(string? Model, string? Alias, string? Version);

public sealed record BaselineResponse(string Model, string Version, string Segment, string Kind, IReadOnlyList<string> Classes, long[][]? Counts, long Total, DateTimeOffset? SetAt);
