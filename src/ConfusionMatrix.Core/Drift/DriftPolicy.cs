using System.Globalization;

namespace ConfusionMatrix.Core.Drift;

/// <summary>
/// Thresholds of the drift monitor; docs/statistics.md gives the method and the measured error rates.
/// </summary>
/// <remarks>
/// Every per-class comparison is a rate conditional on the actual class (recall, false-positive rate) with a one-sided
/// confidence sequence for its drop (<see cref="OneSidedMixture"/>). Drift needs the lower bound of a drop above
/// <see cref="Tolerance"/>; Severe needs it at or above <see cref="SevereDrop"/>; the gate passes a version only when the
/// upper bound of every judged drop is below <see cref="Tolerance"/>. The mixture likelihood ratios are e-values, and
/// the segments and versions of one model share <see cref="Alpha"/> as a false discovery rate (e-BH).
/// </remarks>
public sealed record DriftPolicy
{
    /// <summary>
    /// False discovery rate over all segments and versions of a model (e-BH), and the level of each gate bound.
    /// Default 0.05. The null is "the drop is at most the tolerance", so an unchanged model (drop 0) alarms far less
    /// often than this: 3 in 1000 epochs across 13 segments in the simulation. Must be in (0, 0.5).
    /// </summary>
    public double Alpha { get; init; } = 0.05;

    /// <summary>
    /// Largest drop of recall (or rise of false-positive rate) that does not matter. Default 0.02 (two points): the
    /// week-to-week wobble of a production classifier. Drift needs the lower bound of a drop above it, and the gate needs
    /// the upper bound below it (a non-inferiority margin). Must be in (0, 1).
    /// </summary>
    public double Tolerance { get; init; } = 0.02;

    /// <summary>
    /// Drop whose LOWER confidence bound makes drift Severe (roll back rather than pause). Default 0.15: a canary that
    /// is certainly this much worse must not keep serving. A true drop just below it (0.14) rolls back in under 1% of runs.
    /// Must be in (Tolerance, 1].
    /// </summary>
    public double SevereDrop { get; init; } = 0.15;

    /// <summary>
    /// Scale tau of the half-normal mixing distribution. Default 0.10: the confidence sequence is tightest for drops
    /// near 0.1, between the tolerance and the severe threshold, where decisions are made. Any tau keeps validity.
    /// </summary>
    public double MixingStandardDeviation { get; init; } = 0.10;

    /// <summary>
    /// Smallest EXCESS conditional KL (nats, see <see cref="ConditionalDivergence"/>) for the omnibus row test to alarm.
    /// Default 0.02. No drift gives an excess under 0.005 at K = 2, 10 and 50.
    /// </summary>
    public double KlThreshold { get; init; } = 0.02;

    /// <summary>
    /// Largest tolerated widening of a segment's FNR/FPR gap (against the rest of its dimension) in the canary compared
    /// with the same gap in the stable version; without a stable version, the largest tolerated gap itself. Default 0.10.
    /// </summary>
    public double MaxFairnessGap { get; init; } = 0.10;

    /// <summary>
    /// Minimum expected count (under the pooled proportion) of every cell of a comparison's 2x2 table. Default 5: below
    /// it the normal approximation behind the plug-in variance is unreliable, so the comparison is not judged.
    /// </summary>
    public double MinExpectedCellCount { get; init; } = 5;

    /// <summary>Minimum predictions on each side before any verdict other than InsufficientEvidence. Default 200.</summary>
    public long MinSamples { get; init; } = 200;

    /// <summary>
    /// Dirichlet smoothing mass per matrix ROW for the KL/JS effect sizes; each cell gets SmoothingAlpha / K. Default 0.5.
    /// </summary>
    public double SmoothingAlpha { get; init; } = 0.5;

    /// <summary>
    /// Information (effective predictions, nLive nRef / (nLive + nRef)) at which the omnibus test has spent half of its
    /// alpha; it spends alpha * I / (I + this) in total by information I, however often it looks. Default 20000.
    /// </summary>
    public double OmnibusHalfInformation { get; init; } = 20_000;

    /// <summary>The documented defaults.</summary>
    public static DriftPolicy Default { get; } = new();

    /// <summary>Problems with this policy, one sentence each naming the property; empty when valid.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (!(Alpha > 0 && Alpha < 0.5))
        {
            errors.Add($"Alpha must be in (0, 0.5) (got {Format(Alpha)}).");
        }

        RequireOpenUnit(errors, nameof(Tolerance), Tolerance);
        RequireOpenUnit(errors, nameof(MaxFairnessGap), MaxFairnessGap);
        RequireOpenUnit(errors, nameof(MixingStandardDeviation), MixingStandardDeviation);
        if (!(SevereDrop > 0 && SevereDrop <= 1))
        {
            errors.Add($"SevereDrop must be in (0, 1] (got {Format(SevereDrop)}).");
        }
        else if (SevereDrop <= Tolerance)
        {
            errors.Add($"SevereDrop must be above Tolerance (got {Format(SevereDrop)} <= {Format(Tolerance)}).");
        }

        if (!(KlThreshold > 0) || double.IsInfinity(KlThreshold))
        {
            errors.Add($"KlThreshold must be positive and finite (got {Format(KlThreshold)}).");
        }

        if (!(MinExpectedCellCount >= 1) || double.IsInfinity(MinExpectedCellCount))
        {
            errors.Add($"MinExpectedCellCount must be at least 1 and finite (got {Format(MinExpectedCellCount)}).");
        }

        if (MinSamples < 1)
        {
            errors.Add($"MinSamples must be at least 1 (got {MinSamples.ToString(CultureInfo.InvariantCulture)}).");
        }

        if (!(SmoothingAlpha > 0) || double.IsInfinity(SmoothingAlpha))
        {
            errors.Add($"SmoothingAlpha must be positive and finite (got {Format(SmoothingAlpha)}).");
        }

        if (!(OmnibusHalfInformation > 0) || double.IsInfinity(OmnibusHalfInformation))
        {
            errors.Add($"OmnibusHalfInformation must be positive and finite (got {Format(OmnibusHalfInformation)}).");
        }

        return errors;
    }

    internal void ThrowIfInvalid(string parameterName)
    {
        var errors = Validate();
        if (errors.Count > 0)
        {
            throw new ArgumentException(string.Join(" ", errors), parameterName);
        }
    }

    private static void RequireOpenUnit(List<string> errors, string name, double value)
    {
        if (!(value > 0 && value < 1))
        {
            errors.Add($"{name} must be in (0, 1) (got {Format(value)}).");
        }
    }

    private static string Format(double value) => value.ToString(CultureInfo.InvariantCulture);
}
