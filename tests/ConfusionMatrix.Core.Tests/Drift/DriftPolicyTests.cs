using ConfusionMatrix.Core.Drift;

namespace ConfusionMatrix.Core.Tests.Drift;

public sealed class DriftPolicyTests
{
    [Fact]
    public void Defaults_AreTheDocumentedOnes_AndValid()
    {
        var policy = DriftPolicy.Default;

        Assert.Equal(0.05, policy.Alpha);
        Assert.Equal(0.02, policy.Tolerance);
        Assert.Equal(0.15, policy.SevereDrop);
        Assert.Equal(0.10, policy.MixingStandardDeviation);
        Assert.Equal(0.02, policy.KlThreshold);
        Assert.Equal(0.10, policy.MaxFairnessGap);
        Assert.Equal(5, policy.MinExpectedCellCount);
        Assert.Equal(200, policy.MinSamples);
        Assert.Equal(0.5, policy.SmoothingAlpha);
        Assert.Equal(20_000, policy.OmnibusHalfInformation);
        Assert.Empty(policy.Validate());
    }

    [Fact]
    public void EveryBadValue_IsNamed()
    {
        var errors = new DriftPolicy
        {
            Alpha = 0,
            Tolerance = 1.2,
            SevereDrop = 0,
            KlThreshold = double.PositiveInfinity,
            MaxFairnessGap = -1,
            MinExpectedCellCount = 0.5,
            MinSamples = 0,
            SmoothingAlpha = 0,
            MixingStandardDeviation = 0,
            OmnibusHalfInformation = -1,
        }.Validate();

        foreach (var name in (string[])["Alpha", "Tolerance", "SevereDrop", "KlThreshold", "MaxFairnessGap", "MinExpectedCellCount", "MinSamples", "SmoothingAlpha", "MixingStandardDeviation", "OmnibusHalfInformation"])
        {
            Assert.Contains(errors, e => e.StartsWith(name + " must", StringComparison.Ordinal));
        }
    }

    [Fact]
    public void SevereDrop_MustBeAboveTheTolerance()
    {
        var errors = (DriftPolicy.Default with { Tolerance = 0.2, SevereDrop = 0.15 }).Validate();

        Assert.Equal(["SevereDrop must be above Tolerance (got 0.15 <= 0.2)."], errors);
    }

    [Fact]
    public void Evaluate_FailsFast_OnAnInvalidPolicy()
    {
        var counts = new ConfusionCounts(2);

        var error = Assert.Throws<ArgumentException>(() =>
            DriftEvaluator.Evaluate(counts, counts, DriftPolicy.Default with { Alpha = 0.7 }, new SequentialState()));

        Assert.Contains("Alpha must be in (0, 0.5)", error.Message, StringComparison.Ordinal);
    }
}
