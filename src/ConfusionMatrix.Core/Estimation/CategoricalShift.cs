using ConfusionMatrix.Core.Drift;

namespace ConfusionMatrix.Core.Estimation;

/// <summary>One category's share in each arm, the change and its always-valid confidence interval.</summary>
public sealed record CategoryShift(int Index, double CanaryShare, double StableShare, double Difference, double Lower, double Upper, double PValue, bool Shifted);

/// <summary>The label-free comparison of two arms' category counts (predicted classes, or score bins).</summary>
public sealed record CategoricalShiftResult(
    long CanaryTotal,
    long StableTotal,
    bool Sufficient,
    bool Shifted,
    double PValue,
    double Alpha,
    IReadOnlyList<CategoryShift> Categories);

/// <summary>
/// Compares how two arms (canary and stable) spread over K categories without any label: the predicted-class
/// distribution, or the score distribution in bins. It is the earliest warning there is, because it is known the moment
/// a prediction is logged.
/// <para>
/// Each category's share difference gets the same normal-mixture test the drift watcher uses for rates
/// (<see cref="MixtureSprt"/>): its mixture likelihood ratio is a nonnegative supermartingale under "no change" as the
/// arms grow, so 1/Λ is a p-value valid at any look, however often an operator or a pipeline asks, and inverting it
/// gives a confidence sequence for the difference. The K categories share <see cref="CategoricalShiftOptions.Alpha"/>
/// by Bonferroni (α/K each), so the chance of any false "shifted" stays below α for the whole comparison.
/// </para>
/// <para>
/// The guarantee is for accumulating data (window "all", both arms counted since the canary started): a sliding window
/// drops old predictions, which a martingale argument does not cover, so a sliding-window answer is a single look.
/// </para>
/// </summary>
public static class CategoricalShift
{
    public static CategoricalShiftResult Compare(ReadOnlySpan<long> canary, ReadOnlySpan<long> stable, CategoricalShiftOptions? options = null)
    {
        options ??= CategoricalShiftOptions.Default;
        if (canary.Length != stable.Length || canary.Length < 2)
        {
            throw new ArgumentException($"Both arms need the same number (>= 2) of categories (got {canary.Length} and {stable.Length}).");
        }

        long nCanary = 0, nStable = 0;
        for (var i = 0; i < canary.Length; i++)
        {
            if (canary[i] < 0 || stable[i] < 0)
            {
                throw new ArgumentOutOfRangeException(nameof(canary), "Counts must not be negative.");
            }

            nCanary += canary[i];
            nStable += stable[i];
        }

        var k = canary.Length;
        var sufficient = nCanary >= options.MinimumPerArm && nStable >= options.MinimumPerArm;
        var perCategoryAlpha = options.Alpha / k;
        var tau2 = options.MixingStandardDeviation * options.MixingStandardDeviation;
        var categories = new CategoryShift[k];
        var minP = 1.0;
        var any = false;
        for (var i = 0; i < k; i++)
        {
            var pc = nCanary > 0 ? (double)canary[i] / nCanary : 0;
            var ps = nStable > 0 ? (double)stable[i] / nStable : 0;
            var diff = pc - ps;
            if (!sufficient)
            {
                categories[i] = new CategoryShift(i, pc, ps, diff, -1, 1, 1, false);
                continue;
            }

            var variance = ProportionMath.DifferenceVariance(canary[i], nCanary, stable[i], nStable);
            var p = Math.Min(1, MixtureSprt.PValue(diff, variance, tau2) * k);
            var radius = Radius(variance, tau2, perCategoryAlpha);
            var shifted = p <= options.Alpha;
            any |= shifted;
            minP = Math.Min(minP, p);
            categories[i] = new CategoryShift(i, pc, ps, diff, Math.Max(-1, diff - radius), Math.Min(1, diff + radius), p, shifted);
        }

        return new CategoricalShiftResult(nCanary, nStable, sufficient, any, minP, options.Alpha, categories);
    }

    /// <summary>
    /// Half-width of the confidence sequence: the set of true differences θ whose mixture ratio at θ̂ − θ stays below
    /// 1/α, i.e. τ²(θ̂−θ)² / (2V(V+τ²)) &lt; ln(1/α) + ½ ln((V+τ²)/V).
    /// </summary>
    public static double Radius(double variance, double tau2, double alpha)
    {
        var total = variance + tau2;
        return Math.Sqrt(2 * variance * total / tau2 * (Math.Log(1 / alpha) + (0.5 * Math.Log(total / variance))));
    }
}

/// <summary>Thresholds of the label-free comparison; see <see cref="CategoricalShift"/>.</summary>
public sealed record CategoricalShiftOptions
{
    public static readonly CategoricalShiftOptions Default = new();

    /// <summary>False-alarm budget for the whole comparison (all categories, all looks). Default 0.01, as the drift watcher.</summary>
    public double Alpha { get; init; } = 0.01;

    /// <summary>
    /// Predictions each arm needs before a verdict. Default 200: the normal approximation behind the variance is poor
    /// below that for shares of a few percent, and an early "shifted" on a handful of predictions would only be noise.
    /// </summary>
    public long MinimumPerArm { get; init; } = 200;

    /// <summary>
    /// Standard deviation of the normal mixture over the true share difference: the size of change the test is most
    /// sensitive to. Default 0.02 (two points of share), the order of a class-share move worth a look.
    /// </summary>
    public double MixingStandardDeviation { get; init; } = 0.02;

    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (!(Alpha > 0 && Alpha < 0.5))
        {
            errors.Add($"Alpha must be in (0, 0.5) (got {Alpha}).");
        }

        if (MinimumPerArm < 1)
        {
            errors.Add($"MinimumPerArm must be at least 1 (got {MinimumPerArm}).");
        }

        if (!(MixingStandardDeviation > 0 && MixingStandardDeviation <= 1))
        {
            errors.Add($"MixingStandardDeviation must be in (0, 1] (got {MixingStandardDeviation}).");
        }

        return errors;
    }
}
