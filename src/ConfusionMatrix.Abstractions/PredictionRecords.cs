using System.Globalization;
using System.Text.Json;

namespace ConfusionMatrix.Abstractions;

/// <summary>Why one prediction was refused: a <see cref="RejectionReasons"/> name and a sentence for the caller.</summary>
public readonly record struct RecordProblem(string Reason, string Detail);

/// <summary>One prediction in the public JSON format, read and checked, before the registry is consulted.</summary>
public sealed record PredictionRecord(
    string PredictionId,
    string Model,
    string Version,
    string? Actual,
    string Predicted,
    DateTimeOffset Timestamp,
    double? Score,
    IReadOnlyList<KeyValuePair<string, string>>? Segments);

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

/// <summary>Reads predictions in the public JSON format: <c>{"predictionId","model","version","predicted","actual","score","timestamp","segments"}</c>.</summary>
public static class PredictionRecordReader
{
    /// <summary>
    /// Reads one record. A record without a timestamp gets <paramref name="defaultTimestamp"/>; timestamps are checked
    /// against <paramref name="now"/>. Labels may be JSON strings or numbers (class "1" is written 1 by some producers).
    /// </summary>
    public static RecordProblem? TryRead(JsonElement e, DateTimeOffset defaultTimestamp, DateTimeOffset now, out PredictionRecord? record)
    {
        try
        {
            return TryReadCore(e, defaultTimestamp, now, out record);
        }
        catch (InvalidOperationException)
        {
            // A string escape that is not valid Unicode (a lone surrogate such as "\ud800") cannot be read as text.
            record = null;
            return new(RejectionReasons.Malformed, "a string is not valid Unicode (a lone surrogate escape such as \\ud800)");
        }
    }

    private static RecordProblem? TryReadCore(JsonElement e, DateTimeOffset defaultTimestamp, DateTimeOffset now, out PredictionRecord? record)
    {
        record = null;
        if (e.ValueKind != JsonValueKind.Object)
        {
            return new(RejectionReasons.Malformed, "a prediction must be a JSON object");
        }

        var id = Text(e, "predictionId");
        var model = Text(e, "model");
        var version = Text(e, "version");
        var predicted = Text(e, "predicted");
        var actual = Text(e, "actual");
        if ((PredictionRules.CheckId(id) ?? PredictionRules.CheckFields(model, version, predicted)) is { } problem)
        {
            return problem;
        }

        var timestamp = defaultTimestamp;
        if (e.TryGetProperty("timestamp", out var ts) && ts.ValueKind != JsonValueKind.Null)
        {
            if (ts.ValueKind != JsonValueKind.String
                || !DateTimeOffset.TryParse(ts.GetString(), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out timestamp))
            {
                return new(RejectionReasons.BadTimestamp, "'timestamp' must be an ISO-8601 date-time string such as 2026-11-26T10:00:00Z");
            }

            if (PredictionRules.CheckTimestamp(timestamp, now) is { } late)
            {
                return late;
            }
        }

        double? score = null;
        if (e.TryGetProperty("score", out var s) && s.ValueKind != JsonValueKind.Null)
        {
            if (s.ValueKind != JsonValueKind.Number || !s.TryGetDouble(out var value))
            {
                return new(RejectionReasons.Malformed, "'score' must be a number");
            }

            // 1e400 reads as infinity: a score must be finite.
            if (PredictionRules.CheckScore(value) is { } notFinite)
            {
                return notFinite;
            }

            score = value;
        }

        List<KeyValuePair<string, string>>? segments = null;
        if (e.TryGetProperty("segments", out var segs) && segs.ValueKind != JsonValueKind.Null)
        {
            if (segs.ValueKind != JsonValueKind.Object)
            {
                return new(RejectionReasons.Malformed, "'segments' must be an object of dimension to value");
            }

            foreach (var p in segs.EnumerateObject())
            {
                var value = p.Value.ValueKind switch
                {
                    JsonValueKind.String => p.Value.GetString(),
                    JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False => p.Value.GetRawText(),
                    _ => null,
                };
                if (PredictionRules.CheckSegment(p.Name, value) is { } bad)
                {
                    return bad;
                }

                (segments ??= []).Add(new(p.Name, value!));
            }
        }

        if (actual is null && e.TryGetProperty("actual", out var actualValue) && actualValue.ValueKind is not (JsonValueKind.Null or JsonValueKind.Undefined))
        {
            // Present but not a label (an object, an empty string…): a mistake, not a prediction awaiting its label.
            return new(RejectionReasons.Malformed, "'actual' must be a class name (string or number), or absent/null when the label comes later");
        }

        record = new PredictionRecord(id!, model!, version!, actual, predicted!, timestamp, score, segments);
        return null;
    }

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
    /// <see cref="InvalidOperationException"/> for a string that is not valid Unicode (<see cref="TryRead"/> turns that
    /// into a rejection).
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
