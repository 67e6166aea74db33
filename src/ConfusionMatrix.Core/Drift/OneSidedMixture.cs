namespace ConfusionMatrix.Core.Drift;

/// <summary>
/// One-sided normal-mixture confidence sequence for a difference of two proportions (Robbins' mixture with a
/// half-normal mixing distribution; Howard, Ramdas, McAuliffe and Sekhon, "Time-uniform, nonparametric,
/// nonasymptotic confidence sequences", 2021).
/// </summary>
/// <remarks>
/// <para>For an estimate thetaHat of a change with (plug-in) variance V, the likelihood ratio of "theta = theta0 + d" against
/// "theta = theta0", mixed over d with a half-normal density of scale tau on d &gt; 0, is
/// Lambda(x) = 2 sqrt(V / (V + tau^2)) exp(z^2 / 2) Phi(z), with x = thetaHat - theta0 and z = x tau / sqrt(V (V + tau^2)).
/// Under theta &lt;= theta0 it is a nonnegative supermartingale in the information 1/V, so by Ville's inequality
/// P(sup Lambda &gt;= 1/alpha) &lt;= alpha: Lambda is an e-value for "theta &lt;= theta0" at any stopping time, and
/// {theta0 : Lambda(thetaHat - theta0) &lt; 1/alpha} is a lower confidence bound valid at every look at once.</para>
/// <para>Mixing over one side only puts all the power where the question is (a drop, not a change), which is why
/// it needs fewer samples than the two-sided mixture at the same level.</para>
/// </remarks>
public static class OneSidedMixture
{
    private const double LogTwo = 0.69314718055994530942;

    /// <summary>ln Lambda for "theta &lt;= theta0" at excess = thetaHat - theta0; increasing in the excess.</summary>
    public static double LogLikelihoodRatio(double excess, double variance, double mixingStandardDeviation)
    {
        Require(variance, mixingStandardDeviation);
        if (!double.IsFinite(excess))
        {
            throw new ArgumentOutOfRangeException(nameof(excess), excess, "The estimate must be finite.");
        }

        var tau2 = mixingStandardDeviation * mixingStandardDeviation;
        var total = variance + tau2;
        var z = excess * mixingStandardDeviation / Math.Sqrt(variance * total);
        return LogTwo + (0.5 * Math.Log(variance / total)) + (0.5 * z * z) + LogNormalCdf(z);
    }

    /// <summary>
    /// The margin m with ln Lambda(m) = ln(1/alpha): the lower bound of theta is thetaHat - m and, by symmetry, the
    /// upper bound is thetaHat + m, each valid at level alpha uniformly over looks.
    /// </summary>
    public static double Margin(double variance, double mixingStandardDeviation, double alpha)
    {
        Require(variance, mixingStandardDeviation);
        if (!(alpha > 0 && alpha < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(alpha), alpha, "The level must be in (0, 1).");
        }

        var target = -Math.Log(alpha);
        var tau2 = mixingStandardDeviation * mixingStandardDeviation;

        // The two-sided mixture's closed-form margin bounds this one from above (Lambda here is 2 Phi(z) >= 1 times the
        // two-sided ratio for a positive excess), and half of it is below: bisect in between.
        var high = Math.Sqrt(2 * variance * (variance + tau2) / tau2 * (target + (0.5 * Math.Log((variance + tau2) / variance))));
        var low = 0.5 * high;
        while (LogLikelihoodRatio(low, variance, mixingStandardDeviation) >= target && low > 1e-12)
        {
            high = low;
            low *= 0.5;
        }

        while (LogLikelihoodRatio(high, variance, mixingStandardDeviation) < target)
        {
            low = high;
            high *= 2;
        }

        // Lambda is increasing in the excess: bisection to a millionth of the margin, far below the reported 3 decimals.
        var precision = high * 1e-6;
        while (high - low > precision)
        {
            var mid = 0.5 * (low + high);
            if (LogLikelihoodRatio(mid, variance, mixingStandardDeviation) < target)
            {
                low = mid;
            }
            else
            {
                high = mid;
            }
        }

        return high;
    }

    /// <summary>ln Phi(z), accurate far into the lower tail.</summary>
    internal static double LogNormalCdf(double z)
    {
        if (z > -30)
        {
            return Math.Log(SpecialFunctions.NormalSurvival(-z));
        }

        // Mills ratio: Phi(z) ~ phi(z) / |z| (1 - 1/z^2) for very negative z.
        return (-0.5 * z * z) - Math.Log(-z) - 0.91893853320467274178 + Math.Log(1 - (1 / (z * z)));
    }

    private static void Require(double variance, double tau)
    {
        if (!(variance > 0) || double.IsInfinity(variance))
        {
            throw new ArgumentOutOfRangeException(nameof(variance), variance, "The variance must be positive and finite.");
        }

        if (!(tau > 0) || double.IsInfinity(tau))
        {
            throw new ArgumentOutOfRangeException(nameof(tau), tau, "The mixing standard deviation must be positive and finite.");
        }
    }
}
