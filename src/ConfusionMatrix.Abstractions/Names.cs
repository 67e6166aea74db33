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

/// <summary>Segment naming: the whole version is <c>all</c>; a dimension segment is <c>dimension=value</c>.</summary>
public static class Segments
{
    public const string All = "all";

    public static string For(string dimension, string value) => $"{dimension}={value}";

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
