using ConfusionMatrix.Core.Drift;

namespace ConfusionMatrix.Core.Tests.Drift;

public sealed class OneSidedMixtureTests
{
    [Theory]
    [InlineData(1e-4, 0.10, 0.05)]
    [InlineData(1e-2, 0.10, 0.001)]
    [InlineData(1e-6, 0.02, 0.01)]
    public void Margin_IsWhereTheLikelihoodRatioReachesOneOverAlpha(double variance, double tau, double alpha)
    {
        var margin = OneSidedMixture.Margin(variance, tau, alpha);

        Assert.Equal(-Math.Log(alpha), OneSidedMixture.LogLikelihoodRatio(margin, variance, tau), 4);
        Assert.True(OneSidedMixture.LogLikelihoodRatio(margin * 0.99, variance, tau) < -Math.Log(alpha));
    }

    [Fact]
    public void LikelihoodRatio_IncreasesWithTheExcess_AndTheOneSidedMarginIsNarrowerThanTheTwoSided()
    {
        const double variance = 4e-4, tau = 0.1, alpha = 0.05;
        var previous = double.NegativeInfinity;
        for (var x = -0.2; x <= 0.2; x += 0.01)
        {
            var value = OneSidedMixture.LogLikelihoodRatio(x, variance, tau);
            Assert.True(value > previous, $"ln Lambda must increase with the excess (x = {x})");
            previous = value;
        }

        // Two-sided normal mixture (Robbins): |x| <= sqrt(2V(V+tau^2)/tau^2 * ln(sqrt((V+tau^2)/V)/alpha)).
        var tau2 = tau * tau;
        var twoSided = Math.Sqrt(2 * variance * (variance + tau2) / tau2 * Math.Log(Math.Sqrt((variance + tau2) / variance) / alpha));
        Assert.True(OneSidedMixture.Margin(variance, tau, alpha) < twoSided);
    }

    [Fact]
    public void LowerBound_CoversTheTrueDrop_AtEveryLookAtOnce_OverSeededRuns()
    {
        // Reference recall 0.90, live 0.85: true drop 0.05. Looks after every 100 items per arm, 200 looks.
        const int runs = 400, looks = 200, step = 100;
        const double alpha = 0.05, tau = 0.10, reference = 0.90, live = 0.85, truth = reference - live;
        var random = new Random(424242);
        int missedLower = 0, missedUpper = 0;
        for (var run = 0; run < runs; run++)
        {
            long rs = 0, ls = 0, n = 0;
            double lower = double.NegativeInfinity, upper = double.PositiveInfinity;
            for (var look = 0; look < looks; look++)
            {
                for (var i = 0; i < step; i++)
                {
                    rs += random.NextDouble() < reference ? 1 : 0;
                    ls += random.NextDouble() < live ? 1 : 0;
                }

                n += step;
                var drop = ((double)rs / n) - ((double)ls / n);
                var variance = ProportionMath.DifferenceVariance(rs, n, ls, n);
                var margin = OneSidedMixture.Margin(variance, tau, alpha);
                lower = Math.Max(lower, drop - margin);
                upper = Math.Min(upper, drop + margin);
            }

            missedLower += lower > truth ? 1 : 0;
            missedUpper += upper < truth ? 1 : 0;
        }

        var bound = alpha + (3 * Math.Sqrt(alpha * (1 - alpha) / runs));
        Assert.True(missedLower / (double)runs <= bound, $"the running lower bound passed the truth in {missedLower}/{runs} runs");
        Assert.True(missedUpper / (double)runs <= bound, $"the running upper bound passed the truth in {missedUpper}/{runs} runs");
    }

    [Fact]
    public void BadArguments_Throw()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => OneSidedMixture.LogLikelihoodRatio(0.1, 0, 0.1));
        Assert.Throws<ArgumentOutOfRangeException>(() => OneSidedMixture.LogLikelihoodRatio(double.NaN, 1e-3, 0.1));
        Assert.Throws<ArgumentOutOfRangeException>(() => OneSidedMixture.Margin(1e-3, 0.1, 1));
    }
}
