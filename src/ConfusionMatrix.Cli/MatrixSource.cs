using System.Text.Json;
using ConfusionMatrix.Abstractions;
using ConfusionMatrix.Core;
using ConfusionMatrix.MLflow;

namespace ConfusionMatrix.Cli;

/// <summary>A confusion matrix with its class names, and where it came from.</summary>
public sealed record NamedMatrix(IReadOnlyList<string> Classes, ConfusionCounts Counts, string Source)
{
    /// <summary>The same matrix with rows and columns in <paramref name="order"/>; throws when the class sets differ.</summary>
    public NamedMatrix Reorder(IReadOnlyList<string> order, string otherSource)
    {
        if (order.Count != Classes.Count || order.Except(Classes, StringComparer.Ordinal).Any())
        {
            throw new CmxException($"{Source} has classes [{string.Join(", ", Classes)}] but {otherSource} has [{string.Join(", ", order)}]: the class sets must be the same");
        }

        var k = order.Count;
        var index = order.Select(c => IndexOf(Classes, c)).ToArray();
        var counts = new ConfusionCounts(k);
        for (var i = 0; i < k; i++)
        {
            for (var j = 0; j < k; j++)
            {
                if (Counts[index[i], index[j]] is var n and > 0)
                {
                    counts.Add(i, j, n);
                }
            }
        }

        return this with { Classes = order, Counts = counts };
    }

    public ConfusionMatrixArtifact ToArtifact() => new([.. Classes], Counts.ToRows());

    private static int IndexOf(IReadOnlyList<string> list, string value)
    {
        for (var i = 0; i < list.Count; i++)
        {
            if (list[i] == value)
            {
                return i;
            }
        }

        return -1;
    }
}

/// <summary>
/// Loads a matrix from a matrix JSON file (<c>cmx evaluate</c> output, a <c>confusion_matrix.json</c>, a silo answer), a
/// prediction file (evaluated on the fly), an http(s) URL of the silo's matrix or baseline endpoint, or
/// <c>mlflow:MODEL@ALIAS</c> / <c>mlflow:MODEL/VERSION</c>.
/// </summary>
internal static class MatrixSource
{
    public static async Task<NamedMatrix> LoadAsync(string source, string segment, string? trackingUri, CancellationToken cancellationToken)
    {
        if (source.StartsWith(MLflowModelReference.Scheme, StringComparison.OrdinalIgnoreCase))
        {
            return await FromMLflowAsync(source, trackingUri, cancellationToken);
        }

        if (Uri.TryCreate(source, UriKind.Absolute, out var url) && (url.Scheme == Uri.UriSchemeHttp || url.Scheme == Uri.UriSchemeHttps))
        {
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
            string body;
            try
            {
                using var response = await http.GetAsync(url, cancellationToken);
                body = await response.Content.ReadAsStringAsync(cancellationToken);
                if (!response.IsSuccessStatusCode)
                {
                    throw new CmxException($"{source} answered {(int)response.StatusCode}: {Shorten(body)}");
                }
            }
            catch (HttpRequestException ex)
            {
                throw new CmxException($"{source} is unreachable: {ex.Message}");
            }

            return FromJson(body, segment, source);
        }

        if (!File.Exists(source))
        {
            throw new CmxException($"no such file: {source}");
        }

        var extension = Path.GetExtension(source).ToLowerInvariant();
        if (extension == ".json")
        {
            var text = await File.ReadAllTextAsync(source, cancellationToken);
            if (TryFromJson(text, segment, source, out var matrix, out var problem))
            {
                return matrix!;
            }

            if (problem is not null)
            {
                throw new CmxException(problem);
            }
        }

        // A prediction file: count it, with the requested segment's dimension.
        var dimension = SegmentKey.TryParse(segment, out var key, out var invalid)
            ? key.Dimension
            : throw new CmxException($"--segment '{segment}': {invalid}");
        var evaluation = await FileEvaluation.RunAsync(source, extension == ".json" ? "ndjson" : null, null, dimension is null ? null : [dimension], cancellationToken);
        var reports = evaluation.Evaluator.Reports(DateTimeOffset.UtcNow);
        var report = reports.FirstOrDefault(r => r.Segment == segment)
            ?? throw new CmxException($"{source} has no predictions in segment {segment}");
        return new NamedMatrix(report.Classes, ConfusionCounts.FromRows(report.Counts), $"{source} ({segment})");
    }

    private static async Task<NamedMatrix> FromMLflowAsync(string source, string? trackingUri, CancellationToken cancellationToken)
    {
        if (!MLflowModelReference.TryParse(source, out var reference, out var error))
        {
            throw new CmxException(error!);
        }

        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        var client = CreateMLflowClient(http, trackingUri);
        try
        {
            var baseline = await client.GetBaselineAsync(reference!, cancellationToken);
            return new NamedMatrix(baseline.Matrix.Classes, ConfusionCounts.FromRows(baseline.Matrix.Counts), $"{reference} (version {baseline.ModelVersion.Version}, run {baseline.Run.RunId})");
        }
        catch (MLflowException ex)
        {
            throw new CmxException(ex.Message);
        }
    }

    internal static MLflowClient CreateMLflowClient(HttpClient http, string? trackingUri)
    {
        var options = MLflowOptions.FromEnvironment(trackingUri);
        if (options.Validate("MLflow") is { } problem)
        {
            throw new CmxException($"{problem}: pass --tracking-uri or set MLFLOW_TRACKING_URI");
        }

        return new MLflowClient(http, options);
    }

    internal static NamedMatrix FromJson(string json, string segment, string source) =>
        TryFromJson(json, segment, source, out var matrix, out var problem) ? matrix! : throw new CmxException(problem ?? $"{source} is not a matrix JSON");

    /// <summary>False with a null problem when the text is not a single JSON document (e.g. NDJSON).</summary>
    private static bool TryFromJson(string json, string segment, string source, out NamedMatrix? matrix, out string? problem)
    {
        matrix = null;
        problem = null;
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(json);
        }
        catch (JsonException)
        {
            return false;
        }

        using (doc)
        {
            var root = doc.RootElement;
            JsonElement? chosen = null;
            if (root.ValueKind == JsonValueKind.Array)
            {
                var items = root.EnumerateArray().Where(e => e.ValueKind == JsonValueKind.Object && e.TryGetProperty("counts", out _)).ToList();
                chosen = items.FirstOrDefault(e => e.TryGetProperty("segment", out var s) && s.GetString() == segment) is { ValueKind: JsonValueKind.Object } hit
                    ? hit
                    : items.Count == 1 ? items[0] : null;
                if (chosen is null)
                {
                    problem = $"{source} holds {items.Count} matrices and none of segment {segment} (choose with --segment)";
                    return false;
                }
            }
            else if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty("counts", out _))
            {
                chosen = root;
            }
            else
            {
                return false;
            }

            try
            {
                var classes = chosen.Value.GetProperty("classes").EnumerateArray().Select(c => c.GetString() ?? "").ToArray();
                if (chosen.Value.GetProperty("counts").ValueKind == JsonValueKind.Null)
                {
                    problem = $"{source} has no matrix (counts is null: no holdout baseline is set there)";
                    return false;
                }

                var counts = chosen.Value.GetProperty("counts").EnumerateArray().Select(r => r.EnumerateArray().Select(v => v.GetInt64()).ToArray()).ToArray();
                var artifact = new ConfusionMatrixArtifact(classes, counts).Validate();
                matrix = new NamedMatrix(artifact.Classes, ConfusionCounts.FromRows(artifact.Counts), chosen.Value.TryGetProperty("segment", out var seg) ? $"{source} ({seg.GetString()})" : source);
                return true;
            }
            catch (Exception ex) when (ex is KeyNotFoundException or InvalidOperationException or FormatException)
            {
                problem = $"{source} is not a matrix with 'classes' and 'counts': {ex.Message}";
                return false;
            }
        }
    }

    private static string Shorten(string text) => text.Length <= 300 ? text : text[..300] + "…";
}
