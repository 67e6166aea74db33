using System.Text.Json;

namespace ConfusionMatrix.Abstractions;

/// <summary>Why one prediction was refused: a <see cref="RejectionReasons"/> name and a sentence for the caller.</summary>
public readonly record struct RecordProblem(string Reason, string Detail);

/// <summary>
/// The checks every entry point applies to a prediction (HTTP intake, the Event Hubs adapter, the client library),
/// so that a prediction is refused for the same reason wherever it arrives.
/// </summary>
public static class PredictionRules
{
    public static RecordProblem? CheckId(string? id)
    {
        if (string.IsNullOrEmpty(id))
        {
            return new(RejectionReasons.MissingField, "'predictionId' is required");
        }

        return id.Length > PredictionLimits.MaxIdLength
            ? new(RejectionReasons.IdTooLong, $"'predictionId' is {id.Length} characters; at most {PredictionLimits.MaxIdLength} are allowed")
            : null;
    }

    /// <summary>
    /// Model, version and the predicted label are present, and model and version compose into stream keys. The actual
    /// label may be missing: the prediction then waits for its label, joined on the prediction id.
    /// </summary>
    public static RecordProblem? CheckFields(string? model, string? version, string? predicted)
    {
        var missing = string.IsNullOrEmpty(model) ? "model"
            : string.IsNullOrEmpty(version) ? "version"
            : string.IsNullOrEmpty(predicted) ? "predicted"
            : null;
        if (missing is not null)
        {
            return new(RejectionReasons.MissingField, $"'{missing}' is required");
        }

        return PredictionLimits.IsValidName(model) && PredictionLimits.IsValidName(version)
            ? null
            : new(RejectionReasons.BadName, $"'model' and 'version' must be 1..{PredictionLimits.MaxNameLength} characters without '/' or '='");
    }

    /// <summary>Not before <see cref="PredictionLimits.MinTimestamp"/> and not more than the skew allowance after <paramref name="now"/>.</summary>
    public static RecordProblem? CheckTimestamp(DateTimeOffset timestamp, DateTimeOffset now) =>
        timestamp < PredictionLimits.MinTimestamp || timestamp > now + PredictionLimits.MaxFutureSkew
            ? new(RejectionReasons.BadTimestamp, $"'timestamp' {timestamp:O} is before {PredictionLimits.MinTimestamp:yyyy-MM-dd} or more than {PredictionLimits.MaxFutureSkew.TotalMinutes} minutes in the future")
            : null;

    public static RecordProblem? CheckSegment(string? dimension, string? value)
    {
        if (string.IsNullOrWhiteSpace(dimension))
        {
            return new(RejectionReasons.BadName, "a segment dimension name must not be empty");
        }

        return string.IsNullOrWhiteSpace(value) || value.Length > PredictionLimits.MaxSegmentValueLength
            ? new(RejectionReasons.EmptySegmentValue, $"segment '{dimension}' needs a non-empty value of at most {PredictionLimits.MaxSegmentValueLength} characters")
            : null;
    }

    public static RecordProblem? CheckScore(double? score) =>
        score is { } s && !double.IsFinite(s) ? new(RejectionReasons.Malformed, "'score' must be a finite number") : null;
}

/// <summary>
/// Text fields of a record held as a <see cref="JsonElement"/> (label records). Predictions are read from their bytes by
/// <see cref="PredictionJsonReader"/>, which reads these fields the same way.
/// </summary>
public static class PredictionRecordReader
{
    /// <summary>
    /// A string or number property as text, or null when absent, empty, of another kind or not valid Unicode: for
    /// naming a refused record in its rejection, where nothing may throw.
    /// </summary>
    public static string? TextOrNull(JsonElement e, string name)
    {
        try
        {
            return Text(e, name);
        }
        catch (InvalidOperationException)
        {
            return null;
        }
    }

    /// <summary>
    /// A string or number property as text; null when absent, empty or of another kind. Throws
    /// <see cref="InvalidOperationException"/> for a string that is not valid Unicode (the caller turns that into a
    /// rejection).
    /// </summary>
    public static string? Text(JsonElement e, string name)
    {
        if (!e.TryGetProperty(name, out var v))
        {
            return null;
        }

        var text = v.ValueKind switch
        {
            JsonValueKind.String => v.GetString(),
            JsonValueKind.Number => v.GetRawText(),
            _ => null,
        };
        return string.IsNullOrEmpty(text) ? null : text;
    }
}
