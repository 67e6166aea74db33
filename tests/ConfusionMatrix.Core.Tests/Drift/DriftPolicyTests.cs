using ConfusionMatrix.Core.Drift;

namespace ConfusionMatrix.Core.Tests.Drift;

public sealed class DriftPolicyTests
{
    [Fact]
    public void Default_HasTheDocumentedValues_AndIsValid()
    {
        DriftPolicy policy = DriftPolicy.Default;

        Assert.Equal(0.01, policy.Alpha);
        Assert.Equal(0.05, policy.MinRecallDrop);
        Assert.Equal(0.05, policy.MinPrecisionDrop);
        Assert.Equal(0.15, policy.SevereDrop);
        Assert.Equal(0.02, policy.KlThreshold);
        Assert.Equal(0.10, policy.MaxFairnessGap);
        Assert.Equal(5, policy.MinExpectedCellCount);
        Assert.Equal(200, policy.MinSamples);
        Assert.Equal(0.5, policy.SmoothingAlpha);
        Assert.Null(policy.MixingStandardDeviation);
        Assert.Empty(policy.Validate());
    }

    [Fact]
    public void Validate_NamesTheProperty_AndTheValue()
    {
        IReadOnlyList<string> errors = (DriftPolicy.Default with { Alpha = 0.7 }).Validate();

        Assert.Equal(["Alpha must be in (0, 0.5) (got 0.7)."], errors);
    }

    [Fact]
    public void Validate_ReportsEveryBadProperty()
    {
        var policy = new DriftPolicy
        {
            Alpha = 0,
            MinRecallDrop = 1.2,
            MinPrecisionDrop = -0.1,
            SevereDrop = 0.01,
            KlThreshold = double.NaN,
            MaxFairnessGap = 0,
            MinExpectedCellCount = 0.5,
            MinSamples = 0,
            SmoothingAlpha = 0,
            MixingStandardDeviation = 0,
        };

        IReadOnlyList<string> errors = policy.Validate();

        string[] properties =
        [
            "Alpha", "MinRecallDrop", "MinPrecisionDrop", "SevereDrop", "KlThreshold", "MaxFairnessGap",
            "MinExpectedCellCount", "MinSamples", "SmoothingAlpha", "MixingStandardDeviation",
        ];
        Assert.Equal(properties.Length, errors.Count);
        foreach (string property in properties)
        {
            Assert.Contains(errors, e => e.StartsWith(property + " must", StringComparison.Ordinal));
        }
    }

    [Fact]
    public void SevereDrop_BelowTheMaterialThreshold_IsRejected()
    {
        IReadOnlyList<string> errors = (DriftPolicy.Default with { SevereDrop = 0.04 }).Validate();

        Assert.Single(errors);
        Assert.StartsWith("SevereDrop must be at least MinRecallDrop", errors[0], StringComparison.Ordinal);
    }

    [Fact]
    public void Evaluate_RejectsAnInvalidPolicy()
    {
        var counts = ConfusionCounts.FromRows([[300, 20], [20, 300]]);

        var error = Assert.Throws<ArgumentException>(() =>
            DriftEvaluator.Evaluate(counts, counts, DriftPolicy.Default with { Alpha = 0.7 }, new SequentialState()));

        Assert.Contains("Alpha must be in (0, 0.5)", error.Message, StringComparison.Ordinal);
    }
}
