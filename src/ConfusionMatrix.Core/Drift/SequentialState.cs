using System.Collections.ObjectModel;
using System.Globalization;

namespace ConfusionMatrix.Core.Drift;

/// <summary>
/// Memory of the sequential tests for one (version, segment) or one fairness dimension within one epoch: the look
/// counter (for the omnibus alpha spending) and the running minimum of every always-valid p-value, by key. Create a new
/// instance (or <see cref="Restore"/> an empty one) whenever the live counts are reset; carrying it across a reset
/// would be conservative but would waste power. Not thread-safe: owned by one actor.
/// </summary>
public sealed class SequentialState
{
    private readonly Dictionary<string, double> _minPValues;

    public SequentialState()
    {
        _minPValues = new Dictionary<string, double>(StringComparer.Ordinal);
    }

    private SequentialState(long looks, Dictionary<string, double> minPValues)
    {
        Looks = looks;
        _minPValues = minPValues;
    }

    /// <summary>Looks taken in this epoch (1 after the first evaluation).</summary>
    public long Looks { get; private set; }

    /// <summary>Running minimum p-value for <paramref name="key"/>; 1 if never updated.</summary>
    public double MinPValue(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        return _minPValues.TryGetValue(key, out double p) ? p : 1;
    }

    /// <summary>p_n = min(p_{n-1}, <paramref name="pValue"/>); returns the new running minimum.</summary>
    public double Update(string key, double pValue)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (!(pValue >= 0 && pValue <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(pValue), pValue, "A p-value must be in [0, 1].");
        }

        double min = Math.Min(MinPValue(key), pValue);
        _minPValues[key] = min;
        return min;
    }

    /// <summary>Counts one more look.</summary>
    public void NextLook() => Looks++;

    /// <summary>Copy of the running minima, for persistence together with <see cref="Looks"/>.</summary>
    public IReadOnlyDictionary<string, double> Snapshot() =>
        new ReadOnlyDictionary<string, double>(new Dictionary<string, double>(_minPValues, StringComparer.Ordinal));

    /// <summary>Rebuilds a state persisted with <see cref="Looks"/> and <see cref="Snapshot"/>.</summary>
    public static SequentialState Restore(long looks, IReadOnlyDictionary<string, double> minPValues)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(looks);
        ArgumentNullException.ThrowIfNull(minPValues);
        var copy = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (KeyValuePair<string, double> entry in minPValues)
        {
            if (!(entry.Value >= 0 && entry.Value <= 1))
            {
                throw new ArgumentException(
                    $"p-value for '{entry.Key}' must be in [0, 1] (got {entry.Value.ToString(CultureInfo.InvariantCulture)}).",
                    nameof(minPValues));
            }

            copy[entry.Key] = entry.Value;
        }

        return new SequentialState(looks, copy);
    }
}
