using System.Collections.Immutable;

namespace ConfusionMatrix.Abstractions;

/// <summary>A registered classification model: its classes (in matrix order), positive class and segment dimensions.</summary>
[GenerateSerializer, Immutable, Alias("cm.ModelDefinition")]
public sealed record ModelDefinition(
    [property: Id(0)] string Model,
    [property: Id(1)] ImmutableArray<string> Classes,
    [property: Id(2)] string? PositiveClass,
    [property: Id(3)] ImmutableArray<string> SegmentDimensions,
    [property: Id(4)] DateTimeOffset UpdatedAt,
    [property: Id(5)] TimeSpan? LabelTtl = null,
    [property: Id(6)] TimeSpan? LabelGracePeriod = null)
{
    /// <summary>How long a prediction waits for its label, from its event time: 90 days covers chargebacks.</summary>
    public static readonly TimeSpan DefaultLabelTtl = TimeSpan.FromDays(90);

    /// <summary>How long a label that arrived before its prediction waits for it before it counts as orphaned.</summary>
    public static readonly TimeSpan DefaultLabelGracePeriod = TimeSpan.FromHours(1);

    public static readonly TimeSpan MaxLabelTtl = TimeSpan.FromDays(400);

    public static readonly TimeSpan MaxLabelGracePeriod = TimeSpan.FromDays(7);

    public TimeSpan EffectiveLabelTtl => LabelTtl ?? DefaultLabelTtl;

    public TimeSpan EffectiveLabelGracePeriod => LabelGracePeriod ?? DefaultLabelGracePeriod;

    /// <summary>Checks the label timing settings; returns the problem or null.</summary>
    public static string? ValidateLabelTiming(TimeSpan? labelTtl, TimeSpan? labelGracePeriod)
    {
        if (labelTtl is { } ttl && (ttl < TimeSpan.FromMinutes(1) || ttl > MaxLabelTtl))
        {
            return $"'labelTtl' must be between 00:01:00 and {MaxLabelTtl.TotalDays}.00:00:00 (d.hh:mm:ss).";
        }

        return labelGracePeriod is { } grace && (grace < TimeSpan.Zero || grace > MaxLabelGracePeriod)
            ? $"'labelGracePeriod' must be between 00:00:00 and {MaxLabelGracePeriod.TotalDays}.00:00:00 (d.hh:mm:ss)."
            : null;
    }

    /// <summary>Index of a class name in <see cref="Classes"/>, or -1.</summary>
    public int ClassIndex(string name)
    {
        for (var i = 0; i < Classes.Length; i++)
        {
            if (string.Equals(Classes[i], name, StringComparison.Ordinal))
            {
                return i;
            }
        }

        return -1;
    }

    /// <summary>Checks a definition before it is stored; returns the problem or null.</summary>
    public static string? Validate(string? model, IReadOnlyList<string>? classes, string? positiveClass, IReadOnlyList<string>? segmentDimensions)
    {
        if (!PredictionLimits.IsValidName(model))
        {
            return $"'model' must be 1..{PredictionLimits.MaxNameLength} characters without '/' or '='.";
        }

        if (classes is null || classes.Count < 2)
        {
            return "'classes' must list at least two class names.";
        }

        if (classes.Count > PredictionLimits.MaxClasses)
        {
            return $"'classes' may list at most {PredictionLimits.MaxClasses} classes.";
        }

        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var c in classes)
        {
            if (string.IsNullOrWhiteSpace(c) || c.Length > PredictionLimits.MaxNameLength)
            {
                return $"every class name must be 1..{PredictionLimits.MaxNameLength} non-blank characters.";
            }

            if (!seen.Add(c))
            {
                return $"class '{c}' is listed twice.";
            }
        }

        if (positiveClass is not null && !seen.Contains(positiveClass))
        {
            return $"'positiveClass' '{positiveClass}' is not one of the classes.";
        }

        if (segmentDimensions is not null)
        {
            if (segmentDimensions.Count > PredictionLimits.MaxSegmentDimensions)
            {
                return $"at most {PredictionLimits.MaxSegmentDimensions} segment dimensions are allowed.";
            }

            var dims = new HashSet<string>(StringComparer.Ordinal);
            foreach (var d in segmentDimensions)
            {
                if (!PredictionLimits.IsValidName(d) || d == Segments.All)
                {
                    return $"segment dimension '{d}' must be 1..{PredictionLimits.MaxNameLength} characters without '/' or '=', and not 'all'.";
                }

                if (!dims.Add(d))
                {
                    return $"segment dimension '{d}' is listed twice.";
                }
            }
        }

        return null;
    }
}
