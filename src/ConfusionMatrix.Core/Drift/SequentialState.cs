using System.Collections.ObjectModel;
using System.Globalization;

namespace ConfusionMatrix.Core.Drift;

/// <summary>
/// Memory of the sequential tests for one (version, segment) or one fairness dimension: the look counter and, by key,
/// the running extremes that make the confidence sequences monotone (running maximum of a lower bound or of a log
/// e-value, running minimum of an upper bound or a p-value). Keep it for as long as the reference does not change;
/// start an empty one when it does. Not thread-safe: owned by one actor.
/// </summary>
public sealed class SequentialState
{
    private readonly Dictionary<string, double> _values;

    public SequentialState()
    {
        _values = new Dictionary<string, double>(StringComparer.Ordinal);
    }

    private SequentialState(long looks, Dictionary<string, double> values)
    {
        Looks = looks;
        _values = values;
    }

    /// <summary>Looks taken (1 after the first evaluation).</summary>
    public long Looks { get; private set; }

    /// <summary>Running minimum p-value for <paramref name="key"/>; 1 if never updated.</summary>
    public double MinPValue(string key) => Get(key, 1);

    /// <summary>The stored value for <paramref name="key"/>, or <paramref name="missing"/>.</summary>
    public double Get(string key, double missing)
    {
        ArgumentNullException.ThrowIfNull(key);
        return _values.TryGetValue(key, out var value) ? value : missing;
    }

    /// <summary>p_n = min(p_{n-1}, <paramref name="pValue"/>); returns the new running minimum.</summary>
    public double Update(string key, double pValue)
    {
        if (!(pValue >= 0 && pValue <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(pValue), pValue, "A p-value must be in [0, 1].");
        }

        return RunningMin(key, pValue, 1);
    }

    /// <summary>Keeps and returns the smaller of the stored value (or <paramref name="missing"/>) and <paramref name="value"/>.</summary>
    public double RunningMin(string key, double value, double missing = double.PositiveInfinity)
    {
        ArgumentNullException.ThrowIfNull(key);
        RequireNotNaN(value);
        var min = Math.Min(Get(key, missing), value);
        _values[key] = min;
        return min;
    }

    /// <summary>Keeps and returns the larger of the stored value (or <paramref name="missing"/>) and <paramref name="value"/>.</summary>
    public double RunningMax(string key, double value, double missing = double.NegativeInfinity)
    {
        ArgumentNullException.ThrowIfNull(key);
        RequireNotNaN(value);
        var max = Math.Max(Get(key, missing), value);
        _values[key] = max;
        return max;
    }

    /// <summary>Overwrites the value of <paramref name="key"/> (e.g. the information reached at the last look).</summary>
    public void Set(string key, double value)
    {
        ArgumentNullException.ThrowIfNull(key);
        RequireNotNaN(value);
        _values[key] = value;
    }

    /// <summary>Counts one more look.</summary>
    public void NextLook() => Looks++;

    /// <summary>Copy of the stored values, for persistence together with <see cref="Looks"/>.</summary>
    public IReadOnlyDictionary<string, double> Snapshot() =>
        new ReadOnlyDictionary<string, double>(new Dictionary<string, double>(_values, StringComparer.Ordinal));

    /// <summary>Rebuilds a state persisted with <see cref="Looks"/> and <see cref="Snapshot"/>.</summary>
    public static SequentialState Restore(long looks, IReadOnlyDictionary<string, double> values)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(looks);
        ArgumentNullException.ThrowIfNull(values);
        var copy = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var entry in values)
        {
            if (double.IsNaN(entry.Value))
            {
                throw new ArgumentException(
                    $"value for '{entry.Key}' must be a number (got {entry.Value.ToString(CultureInfo.InvariantCulture)}).",
                    nameof(values));
            }

            copy[entry.Key] = entry.Value;
        }

        return new SequentialState(looks, copy);
    }

    private static void RequireNotNaN(double value)
    {
        if (double.IsNaN(value))
        {
            throw new ArgumentOutOfRangeException(nameof(value), value, "A stored value must be a number.");
        }
    }
}
