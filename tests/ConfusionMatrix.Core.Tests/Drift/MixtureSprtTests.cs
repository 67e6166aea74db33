using ConfusionMatrix.Core.Drift;

namespace ConfusionMatrix.Core.Tests.Drift;

public sealed class MixtureSprtTests
{
    [Fact]
    public void LogLikelihoodRatio_MatchesHandComputation()
    {
        // theta = 0.2, V = 0.001, tau2 = 0.0025:
        // ln Lambda = 0.5 ln(0.001 / 0.0035) + 0.0025 * 0.04 / (2 * 0.001 * 0.0035)
        //           = 0.5 * (-1.2527629685) + 14.2857142857 = 13.6593328015
        var expected = (0.5 * Math.Log(0.001 / 0.0035)) + (0.0001 / 0.000007);

        var actual = MixtureSprt.LogLikelihoodRatio(0.2, 0.001, 0.0025);

        Assert.Equal(13.659332801466602, expected, 12);
        Assert.Equal(expected, actual, 12);
        Assert.Equal(Math.Exp(-expected), MixtureSprt.PValue(0.2, 0.001, 0.0025), 15);
        Assert.Equal(1.1690339880091297e-06, MixtureSprt.PValue(0.2, 0.001, 0.0025), 15);
    }

    [Fact]
    public void LogLikelihoodRatio_IsSymmetricInTheSignOfTheEstimate()
    {
        Assert.Equal(
            MixtureSprt.LogLikelihoodRatio(0.07, 0.0004, 0.0025),
            MixtureSprt.LogLikelihoodRatio(-0.07, 0.0004, 0.0025),
            15);
    }

    [Fact]
    public void PValue_IsOneWhenTheEstimateIsZero()
    {
        // Lambda = sqrt(V / (V + tau2)) < 1, so 1/Lambda > 1 and the p-value is capped at 1.
        Assert.True(MixtureSprt.LogLikelihoodRatio(0, 0.001, 0.0025) < 0);
        Assert.Equal(1, MixtureSprt.PValue(0, 0.001, 0.0025));
    }

    [Fact]
    public void HugeEvidence_StaysFiniteInLogSpace()
    {
        // exp(tau2 theta^2 / (2 V (V + tau2))) would be exp(~5e6): overflow unless computed in log space.
        var logLr = MixtureSprt.LogLikelihoodRatio(0.5, 1e-8, 0.0025);

        Assert.True(double.IsFinite(logLr));
        Assert.True(logLr > 1e6);
        Assert.Equal(0, MixtureSprt.PValue(0.5, 1e-8, 0.0025));
    }

    [Fact]
    public void PValue_DecreasesAsEvidenceAccumulatesForAFixedEffect()
    {
        double previous = 1;
        for (var n = 100; n <= 3200; n *= 2)
        {
            var p = MixtureSprt.PValue(0.05, 0.25 / n, 0.0025);
            Assert.True(p <= previous, $"p at n={n} ({p}) should not exceed p at n/2 ({previous})");
            previous = p;
        }

        Assert.True(previous < 1e-3);
    }

    [Theory]
    [InlineData(double.NaN, 0.001, 0.0025)]
    [InlineData(0.1, 0, 0.0025)]
    [InlineData(0.1, -1, 0.0025)]
    [InlineData(0.1, 0.001, 0)]
    [InlineData(0.1, 0.001, double.PositiveInfinity)]
    public void InvalidArguments_Throw(double theta, double variance, double tau2)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => MixtureSprt.LogLikelihoodRatio(theta, variance, tau2));
    }
}
