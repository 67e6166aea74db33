namespace ConfusionMatrix.Core.Drift;

/// <summary>
/// Normal-mixture sequential probability ratio test (Johari, Pekelis and Walsh, "Always Valid Inference", 2017).
/// For an estimate thetaHat of a difference with variance V and a N(0, tau2) mixture over the true difference,
/// Lambda = sqrt(V / (V + tau2)) * exp(tau2 * thetaHat^2 / (2 V (V + tau2))). Under the null Lambda is a
/// (super)martingale, so by Ville's inequality P(sup_n Lambda_n >= 1/alpha) <= alpha: the running minimum of 1/Lambda
/// is a p-value valid at any data-dependent stopping time, however often one looks.
/// </summary>
public static class MixtureSprt
{
    /// <summary>ln Lambda, computed in log space so large effects never overflow.</summary>
    public static double LogLikelihoodRatio(double thetaHat, double variance, double tau2)
    {
        if (!double.IsFinite(thetaHat))
        {
            throw new ArgumentOutOfRangeException(nameof(thetaHat), thetaHat, "The estimate must be finite.");
        }

        if (!(variance > 0) || double.IsInfinity(variance))
        {
            throw new ArgumentOutOfRangeException(nameof(variance), variance, "The variance must be positive and finite.");
        }

        if (!(tau2 > 0) || double.IsInfinity(tau2))
        {
            throw new ArgumentOutOfRangeException(nameof(tau2), tau2, "The mixing variance must be positive and finite.");
        }

        var total = variance + tau2;
        return (0.5 * Math.Log(variance / total)) + (tau2 * thetaHat * thetaHat / (2 * variance * total));
    }

    /// <summary>min(1, 1/Lambda) for a single look; keep the running minimum in a <see cref="SequentialState"/>.</summary>
    public static double PValue(double thetaHat, double variance, double tau2)
    {
        var logLr = LogLikelihoodRatio(thetaHat, variance, tau2);
        return logLr <= 0 ? 1 : Math.Exp(-logLr);
    }
}
