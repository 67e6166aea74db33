using System.Globalization;

namespace ConfusionMatrix.Core.Drift;

/// <summary>
/// Thresholds of the drift monitor. Every alarm needs BOTH statistical evidence (an always-valid or alpha-spent p-value
/// below its threshold) AND a material effect (an absolute drop or divergence large enough to matter), so huge samples
/// cannot alarm on negligible effects and small samples cannot alarm on noise.
/// </summary>
/// <remarks>
/// <see cref="Alpha"/> is the false-alarm probability budget per (model version, segment, epoch): the epoch starts when the
/// live counts start accumulating and ends when they are reset. Within it the monitor may look as often as it likes.
/// The per-class family (recall and precision for K classes) spends Alpha by Bonferroni (alpha / 2K each, always-valid
/// p-values); the omnibus G-test spends Alpha over looks (alpha * 6 / (pi^2 i^2) at look i). By the union bound the two
/// families together are bounded by 2 * Alpha; in practice the omnibus path is also gated by <see cref="KlThreshold"/>,
/// which a no-drift model essentially never reaches, so the measured rate stays below Alpha (see the simulation tests).
/// </remarks>
public sealed record DriftPolicy
{
    /// <summary>
    /// False-alarm probability per (version, segment, epoch). Default 0.01: at a handful of segments and versions per
    /// model the on-call sees a spurious page far less than once a month. Must be in (0, 0.5).
    /// </summary>
    public double Alpha { get; init; } = 0.01;

    /// <summary>
    /// Smallest absolute recall drop (reference minus live) that counts as material. Default 0.05 (5 points): smaller
    /// changes are within the usual week-to-week wobble of a production classifier and do not justify a rollback.
    /// Also the default mixing standard deviation of the recall mSPRT (power is best near this effect).
    /// </summary>
    public double MinRecallDrop { get; init; } = 0.05;

    /// <summary>Smallest absolute precision drop that counts as material. Default 0.05, for the same reason as recall.</summary>
    public double MinPrecisionDrop { get; init; } = 0.05;

    /// <summary>
    /// Absolute drop that makes a significant finding Severe (pause/roll back) rather than Drift (alert). Default 0.15:
    /// three times the material threshold, a loss no canary should be allowed to keep serving. Must be at least both
    /// material thresholds.
    /// </summary>
    public double SevereDrop { get; init; } = 0.15;

    /// <summary>
    /// Smallest smoothed KL(live || reference) in nats for the omnibus joint-matrix test to alarm. Default 0.02: the
    /// KL of a clear shift of a few percent of the probability mass; a stable model stays near 1e-4. KL alone misses
    /// a recall drop on a rare class (the mass moved is small), which is why per-class tests run beside it.
    /// </summary>
    public double KlThreshold { get; init; } = 0.02;

    /// <summary>
    /// Largest tolerated absolute gap between a segment's FNR/FPR and the rest of its dimension. Default 0.10: a
    /// ten-point difference in missed positives between, e.g., regions is a fairness problem worth a human look.
    /// </summary>
    public double MaxFairnessGap { get; init; } = 0.10;

    /// <summary>
    /// Minimum EXPECTED count (under the pooled proportion) of every cell of a comparison's 2x2 table. Default 5: the
    /// classical rule below which the normal approximation behind the mSPRT variance is unreliable; comparisons under
    /// it are reported as insufficient and cannot alarm. Must be at least 1.
    /// </summary>
    public double MinExpectedCellCount { get; init; } = 5;

    /// <summary>
    /// Minimum predictions in both the live and the reference matrix before any verdict other than InsufficientEvidence.
    /// Default 200: keeps the first looks after an epoch start (a few seconds of traffic) from producing verdicts at all.
    /// </summary>
    public long MinSamples { get; init; } = 200;

    /// <summary>Additive smoothing of every cell for the KL/JS effect sizes. Default 0.5 (Jeffreys prior): keeps empty
    /// cells finite without swamping rare cells.</summary>
    public double SmoothingAlpha { get; init; } = 0.5;

    /// <summary>
    /// Standard deviation tau of the normal mixing distribution of the mSPRT (tau^2 is the mixing variance). Null means
    /// "the minimum material effect of the comparison": <see cref="MinRecallDrop"/> for recall, <see cref="MinPrecisionDrop"/>
    /// for precision and <see cref="MaxFairnessGap"/> for fairness gaps, which puts the test's power where alarms matter.
    /// Any positive tau keeps the false-alarm guarantee; it only moves the power. Must be in (0, 1) when set.
    /// </summary>
    public double? MixingStandardDeviation { get; init; }

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

        RequireOpenUnit(errors, nameof(MinRecallDrop), MinRecallDrop);
        RequireOpenUnit(errors, nameof(MinPrecisionDrop), MinPrecisionDrop);
        RequireOpenUnit(errors, nameof(MaxFairnessGap), MaxFairnessGap);
        if (!(SevereDrop > 0 && SevereDrop <= 1))
        {
            errors.Add($"SevereDrop must be in (0, 1] (got {Format(SevereDrop)}).");
        }
        else if (SevereDrop < MinRecallDrop || SevereDrop < MinPrecisionDrop)
        {
            errors.Add(
                $"SevereDrop must be at least MinRecallDrop and MinPrecisionDrop (got {Format(SevereDrop)} < {Format(Math.Max(MinRecallDrop, MinPrecisionDrop))}).");
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

        if (MixingStandardDeviation is double tau && !(tau > 0 && tau < 1))
        {
            errors.Add($"MixingStandardDeviation must be in (0, 1) when set (got {Format(tau)}).");
        }

        return errors;
    }

    internal double MixingVariance(double minimumMaterialEffect)
    {
        double tau = MixingStandardDeviation ?? minimumMaterialEffect;
        return tau * tau;
    }

    internal void ThrowIfInvalid(string parameterName)
    {
        IReadOnlyList<string> errors = Validate();
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
