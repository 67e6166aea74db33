using System.Globalization;

namespace ConfusionMatrix.Core.Drift;

/// <summary>Two-proportion helpers shared by the drift and fairness evaluators.</summary>
internal static class ProportionMath
{
    /// <summary>x / n, or 0 when n = 0 (the comparison is then never sufficient).</summary>
    public static double Rate(long successes, long trials) => trials > 0 ? (double)successes / trials : 0;

    /// <summary>
    /// Var(pA - pB) = pA(1-pA)/nA + pB(1-pB)/nB with each p shrunk to (x + 0.5) / (n + 1), so the variance stays positive
    /// when an observed rate is exactly 0 or 1. Used only inside the variance; the reported rates are raw.
    /// </summary>
    public static double DifferenceVariance(long successesA, long trialsA, long successesB, long trialsB) =>
        ShrunkBernoulliVariance(successesA, trialsA) + ShrunkBernoulliVariance(successesB, trialsB);

    /// <summary>
    /// True when every cell of the 2x2 table (A/B x success/failure) has an expected count, under the pooled proportion,
    /// of at least <paramref name="minExpected"/>. Fails when a side is empty or the pooled rate is 0 or 1.
    /// </summary>
    public static bool HasExpectedCells(long successesA, long trialsA, long successesB, long trialsB, double minExpected)
    {
        if (trialsA <= 0 || trialsB <= 0)
        {
            return false;
        }

        var pooled = (double)(successesA + successesB) / ((double)trialsA + trialsB);
        var smallerShare = Math.Min(pooled, 1 - pooled);
        return Math.Min(trialsA, trialsB) * smallerShare >= minExpected;
    }

    public static string Rate3(double value) => value.ToString("0.000", CultureInfo.InvariantCulture);

    public static string Signed3(double value) => value.ToString("+0.000;-0.000;0.000", CultureInfo.InvariantCulture);

    /// <summary>p-values and thresholds: plain decimals down to 0.001, scientific below.</summary>
    public static string P(double value) =>
        value >= 0.001 || value == 0
            ? value.ToString("0.####", CultureInfo.InvariantCulture)
            : value.ToString("0.0e-00", CultureInfo.InvariantCulture);

    private static double ShrunkBernoulliVariance(long successes, long trials)
    {
        var p = (successes + 0.5) / (trials + 1.0);
        return p * (1 - p) / trials;
    }
}
