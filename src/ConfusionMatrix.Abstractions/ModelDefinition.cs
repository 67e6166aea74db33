using System.Collections.Immutable;

namespace ConfusionMatrix.Abstractions;

/// <summary>A registered classification model: its classes (in matrix order), positive class and segment dimensions.</summary>
[GenerateSerializer, Immutable, Alias("cm.ModelDefinition")]
public sealed record ModelDefinition(
    [property: Id(0)] string Model,
    [property: Id(1)] ImmutableArray<string> Classes,
    [property: Id(2)] string? PositiveClass,
    [property: Id(3)] ImmutableArray<string> SegmentDimensions,
    [property: Id(4)] DateTimeOffset UpdatedAt)
{
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
