namespace ConfusionMatrix.Core.Tests;

public sealed class SpecialFunctionsTests
{
    [Theory]
    [InlineData(1.0, 0.0)]
    [InlineData(2.0, 0.0)]
    [InlineData(0.5, 0.5723649429247004)]
    [InlineData(10.0, 12.801827480081469)]
    [InlineData(100.0, 359.1342053695754)]
    [InlineData(0.1, 2.2527126517342055)]
    [InlineData(-2.5, -0.05624371649767457)]
    [InlineData(1e6, 12815504.569147611)]
    public void LogGamma_KnownValues(double x, double expected)
    {
        var actual = SpecialFunctions.LogGamma(x);

        Assert.True(Math.Abs(actual - expected) <= 1e-13 * Math.Max(1, Math.Abs(expected)), $"lgamma({x}) = {actual:R}, expected {expected:R}");
    }

    [Theory]
    [InlineData(3.841458820694124, 1, 0.05)]
    [InlineData(10.0, 1, 0.0015654022580025488)]
    [InlineData(1000.0, 2, 7.124576406741286e-218)]
    [InlineData(100.0, 4, 9.83662422461598e-21)]
    [InlineData(2.0, 2, 0.36787944117144233)]
    public void ChiSquaredSurvival_KnownValues(double x, double df, double expected)
    {
        Approx.Equal(expected, ChiSquared.SurvivalFunction(x, df), $"sf({x}, {df})");
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(-3.0)]
    public void ChiSquaredSurvival_NonPositiveX_IsOne(double x)
    {
        Assert.Equal(1.0, ChiSquared.SurvivalFunction(x, 3));
    }

    [Fact]
    public void ChiSquaredSurvival_RejectsNonPositiveDegreesOfFreedom()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => ChiSquared.SurvivalFunction(1, 0));
    }

    [Theory]
    [InlineData(0.5, 0.2)]
    [InlineData(3.0, 1.5)]
    [InlineData(3.0, 7.0)]
    [InlineData(50.0, 48.0)]
    [InlineData(50.0, 60.0)]
    [InlineData(2500.0, 2400.0)]
    public void GammaPAndQ_SumToOne(double a, double x)
    {
        var p = SpecialFunctions.RegularizedGammaP(a, x);
        var q = SpecialFunctions.RegularizedGammaQ(a, x);

        Assert.InRange(p, 0, 1);
        Assert.InRange(q, 0, 1);
        Assert.Equal(1.0, p + q, 12);
    }

    [Theory]
    [InlineData(0.3)]
    [InlineData(5.0)]
    [InlineData(400.0)]
    public void GammaQ_ShapeOne_IsExponential(double x)
    {
        Approx.Equal(Math.Exp(-x), SpecialFunctions.RegularizedGammaQ(1, x), "Q(1, x)");
    }

    [Theory]
    [InlineData(0.0, 0.5)]
    [InlineData(1.959963984540054, 0.02500000000000002)]
    [InlineData(-1.0, 0.8413447460685429)]
    [InlineData(10.0, 7.619853024160593e-24)]
    [InlineData(30.0, 4.906713927148764e-198)]
    public void NormalSurvival_KnownValues(double z, double expected)
    {
        Approx.Equal(expected, SpecialFunctions.NormalSurvival(z), $"sf({z})");
    }
}
