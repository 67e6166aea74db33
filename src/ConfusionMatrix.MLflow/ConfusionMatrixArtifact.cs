using System.Text.Json;
using System.Text.Json.Serialization;

namespace ConfusionMatrix.MLflow;

/// <summary>
/// The <c>confusion_matrix.json</c> artifact a training job logs to its MLflow run: class names in matrix order and the
/// raw counts, rows actual and columns predicted (scikit-learn's <c>confusion_matrix(y_true, y_pred, labels=classes)</c>).
/// <code>{"classes":["legit","fraud"],"counts":[[9500,100],[30,370]]}</code>
/// </summary>
public sealed record ConfusionMatrixArtifact(
    [property: JsonPropertyName("classes")] IReadOnlyList<string> Classes,
    [property: JsonPropertyName("counts")] long[][] Counts)
{
    /// <summary>The artifact's file name in the run, at the artifact root.</summary>
    public const string FileName = "confusion_matrix.json";

    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    /// <summary>Reads and checks an artifact; throws <see cref="FormatException"/> with a one-line reason when it is not valid.</summary>
    public static ConfusionMatrixArtifact Parse(ReadOnlySpan<byte> utf8Json)
    {
        ConfusionMatrixArtifact? artifact;
        try
        {
            artifact = JsonSerializer.Deserialize<ConfusionMatrixArtifact>(utf8Json);
        }
        catch (JsonException ex)
        {
            throw new FormatException($"{FileName} is not valid JSON: {ex.Message}", ex);
        }

        return artifact?.Validate() ?? throw new FormatException($"{FileName} is empty (expected {{\"classes\":[…],\"counts\":[[…]]}}).");
    }

    /// <summary>Returns this artifact when it is a K x K matrix of non-negative counts over K distinct, non-empty class names.</summary>
    public ConfusionMatrixArtifact Validate()
    {
        if (Classes is null || Classes.Count < 2)
        {
            throw new FormatException($"{FileName} needs 'classes' with at least two class names.");
        }

        if (Classes.Any(string.IsNullOrWhiteSpace) || Classes.Distinct(StringComparer.Ordinal).Count() != Classes.Count)
        {
            throw new FormatException($"{FileName}: 'classes' must be distinct, non-empty names.");
        }

        var k = Classes.Count;
        if (Counts is null || Counts.Length != k || Counts.Any(row => row is null || row.Length != k))
        {
            throw new FormatException($"{FileName}: 'counts' must be a {k}x{k} matrix (rows actual, columns predicted, in the order of 'classes').");
        }

        long total = 0;
        foreach (var row in Counts)
        {
            foreach (var cell in row)
            {
                if (cell < 0)
                {
                    throw new FormatException($"{FileName}: 'counts' must not contain negative values.");
                }

                total = checked(total + cell);
            }
        }

        return total == 0 ? throw new FormatException($"{FileName}: 'counts' must contain at least one prediction.") : this;
    }

    public byte[] ToUtf8Json() => JsonSerializer.SerializeToUtf8Bytes(this, Indented);
}
