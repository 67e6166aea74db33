using System.Text.Json;
using System.Text.Json.Serialization;
using ConfusionMatrix.Api.Contracts;
using ConfusionMatrix.Core;

namespace ConfusionMatrix.Cli.Evaluation;

/// <summary>
/// An offline evaluation as the silo answers <c>GET …/segments/{segment}/matrix</c> (<see cref="MatrixResponse"/> of
/// the HTTP contract), so a pipeline reads offline and live matrices with the same code. Offline every evaluated record
/// carries its label, so nothing is pending or expired, label latency is unknown (no label times in the file) and no
/// batches were applied.
/// </summary>
public static class MatrixReport
{
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    };

    public static MatrixResponse Create(string model, string version, string segment, IReadOnlyList<string> classes, ConfusionCounts counts, DateTimeOffset asOf)
    {
        var distribution = new Dictionary<string, long>(StringComparer.Ordinal);
        var pending = new Dictionary<string, long>(StringComparer.Ordinal);
        for (var c = 0; c < classes.Count; c++)
        {
            distribution[classes[c]] = counts.ColumnTotal(c);
            pending[classes[c]] = 0;
        }

        var latency = new LabelLatencyResponse(
            null,
            null,
            null,
            [.. LabelStatusWindows.LatencyBucketUpperBounds.Select(b => (double?)b.TotalSeconds), null],
            new long[LabelStatusWindows.LatencyBucketCount]);
        var labels = new LabelCoverageResponse(counts.Total, 0, 0, counts.Total == 0 ? null : 1.0, pending, latency);
        var metrics = MetricsResponse.From(MetricsCalculator.Compute(counts), classes);
        return new MatrixResponse(model, version, segment, "all", classes, counts.ToRows(), counts.Total, metrics, asOf, 0, distribution, labels);
    }
}
