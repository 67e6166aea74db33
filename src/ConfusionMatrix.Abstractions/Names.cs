namespace ConfusionMatrix.Abstractions;

/// <summary>Stream and grain-key naming shared by producers, the silo and inference-side clients.</summary>
public static class PredictionLog
{
    /// <summary>Name of the Orleans stream provider that carries the prediction log.</summary>
    public const string StreamProvider = "PredictionLog";

    /// <summary>Stream namespace the version routers are implicitly subscribed to.</summary>
    public const string StreamNamespace = "prediction-log";

    /// <summary>Stream key and version-router grain key: <c>{model}/{version}</c>.</summary>
    public static string VersionKey(string model, string version) => $"{model}/{version}";

    /// <summary>Splits a <c>{model}/{version}</c> key; model names may not contain '/'.</summary>
    public static (string Model, string Version) ParseVersionKey(string key)
    {
        var slash = key.IndexOf('/');
        if (slash <= 0 || slash == key.Length - 1)
        {
            throw new ArgumentException($"Expected '{{model}}/{{version}}', got '{key}'.", nameof(key));
        }

        return (key[..slash], key[(slash + 1)..]);
    }
}

/// <summary>
/// A segment of a model version: the whole version (<see cref="All"/>, the default value, written <c>all</c>) or one
/// value of one dimension, written <c>dimension=value</c>. Grain keys, routes and verdicts carry the written form;
/// code that needs the parts parses it here once. A dimension is non-empty; a value is non-empty and at most
/// <see cref="PredictionLimits.MaxSegmentValueLength"/> characters (<see cref="PredictionRules.CheckSegment"/>).
/// The value is split at the first '=', so a value may itself contain '='.
/// </summary>
[GenerateSerializer, Immutable, Alias("cm.SegmentKey")]
public readonly record struct SegmentKey
{
    private SegmentKey(string dimension, string value) => (Dimension, Value) = (dimension, value);

    /// <summary>The whole version.</summary>
    public static SegmentKey All => default;

    /// <summary>The dimension name; null for <see cref="All"/>.</summary>
    [Id(0)]
    public string? Dimension { get; }

    /// <summary>The dimension's value; null for <see cref="All"/>.</summary>
    [Id(1)]
    public string? Value { get; }

    public bool IsAll => Dimension is null;

    /// <summary>The segment of one dimension value; throws <see cref="ArgumentException"/> when the rules refuse it.</summary>
    public static SegmentKey Of(string dimension, string value) =>
        PredictionRules.CheckSegment(dimension, value) is { } problem
            ? throw new ArgumentException($"Invalid segment: {problem.Detail}.", nameof(value))
            : new SegmentKey(dimension, value);

    /// <summary>Reads <c>all</c> or <c>dimension=value</c>.</summary>
    public static bool TryParse(string? text, out SegmentKey key) => TryParse(text, out key, out _);

    /// <summary>Reads <c>all</c> or <c>dimension=value</c>; <paramref name="error"/> says what is wrong otherwise.</summary>
    public static bool TryParse(string? text, out SegmentKey key, out string? error)
    {
        key = default;
        if (text == Segments.All)
        {
            error = null;
            return true;
        }

        var eq = text?.IndexOf('=') ?? -1;
        if (text is null || eq < 0)
        {
            error = $"a segment is '{Segments.All}' or 'dimension=value' (got '{text}')";
            return false;
        }

        string dimension = text[..eq], value = text[(eq + 1)..];
        if (PredictionRules.CheckSegment(dimension, value) is { } problem)
        {
            error = problem.Detail;
            return false;
        }

        key = new SegmentKey(dimension, value);
        error = null;
        return true;
    }

    public static SegmentKey Parse(string text) =>
        TryParse(text, out var key, out var error) ? key : throw new FormatException($"Invalid segment: {error}.");

    /// <summary>Whether this segment belongs to <paramref name="dimension"/>.</summary>
    public bool IsIn(string dimension) => Dimension == dimension;

    /// <summary>The written form: <c>all</c> or <c>dimension=value</c>.</summary>
    public override string ToString() => IsAll ? Segments.All : $"{Dimension}={Value}";

    public static implicit operator string(SegmentKey key) => key.ToString();
}

/// <summary>Segment naming: the whole version is <c>all</c>; a dimension segment is <c>dimension=value</c> (see <see cref="SegmentKey"/>).</summary>
public static class Segments
{
    public const string All = "all";

    public static string For(string dimension, string value) => $"{dimension}={value}";

    /// <summary>Segment-matrix grain key: <c>{model}/{version}/{segment}</c>.</summary>
    public static string MatrixKey(string model, string version, SegmentKey segment) => MatrixKey(model, version, segment.ToString());

    /// <summary>Segment-matrix grain key: <c>{model}/{version}/{segment}</c>.</summary>
    public static string MatrixKey(string model, string version, string segment) => $"{model}/{version}/{segment}";

    public static (string Model, string Version, string Segment) ParseMatrixKey(string key)
    {
        var first = key.IndexOf('/');
        var second = first < 0 ? -1 : key.IndexOf('/', first + 1);
        if (first <= 0 || second <= first + 1 || second == key.Length - 1)
        {
            throw new ArgumentException($"Expected '{{model}}/{{version}}/{{segment}}', got '{key}'.", nameof(key));
        }

        return (key[..first], key[(first + 1)..second], key[(second + 1)..]);
    }
}

/// <summary>Limits applied to every prediction, wherever it enters.</summary>
public static class PredictionLimits
{
    public const int MaxIdLength = 128;
    public const int MaxNameLength = 128;
    public const int MaxSegmentValueLength = 128;
    public const int MaxClasses = 4096;
    public const int MaxSegmentDimensions = 16;

    /// <summary>How far in the future an event timestamp may lie before it is rejected (clock skew allowance).</summary>
    public static readonly TimeSpan MaxFutureSkew = TimeSpan.FromMinutes(5);

    /// <summary>Timestamps before this are certainly bad input (unset fields serialised as 0001-01-01 or epoch 0).</summary>
    public static readonly DateTimeOffset MinTimestamp = new(2000, 1, 1, 0, 0, 0, TimeSpan.Zero);

    /// <summary>Names (model, version, class, dimension) are non-empty and free of '/' so that they compose into keys.</summary>
    public static bool IsValidName(string? name) =>
        !string.IsNullOrWhiteSpace(name) && name.Length <= MaxNameLength && !name.Contains('/') && !name.Contains('=');
}
