using ConfusionMatrix.Core.Drift;

namespace ConfusionMatrix.Core.Tests.Drift;

public sealed class FairnessEvaluatorTests
{
    private const int Fraud = 1;

    [Fact]
    public void FnrOf30PctInEu_Versus10PctElsewhere_Alerts()
    {
        var segments = new List<(string, ConfusionCounts)>
        {
            ("EU", Segment(positives: 1000, falseNegatives: 300, negatives: 10000, falsePositives: 200)),
            ("US", Segment(positives: 1000, falseNegatives: 100, negatives: 10000, falsePositives: 200)),
            ("APAC", Segment(positives: 1000, falseNegatives: 100, negatives: 10000, falsePositives: 200)),
        };

        var result = FairnessEvaluator.Evaluate("region", segments, Fraud, DriftPolicy.Default, new SequentialState());

        Assert.True(result.Alert);
        Assert.StartsWith("FNR of region=EU is 0.300 vs 0.100 for the rest (+0.200, always-valid p=", result.Reason, StringComparison.Ordinal);
        var eu = Assert.Single(result.Gaps, g => g.Segment == "EU" && g.Metric == "fnr");
        Assert.True(eu.Sufficient && eu.Significant && eu.Material);
        Assert.Equal(0.2, eu.Gap, 12);
        Assert.Equal(1000, eu.SegmentDenominator);
        Assert.Equal(2000, eu.RestDenominator);
        Assert.Equal(DriftPolicy.Default.Alpha / 6, eu.Threshold, 15);
        Assert.DoesNotContain(result.Gaps, g => g.Metric == "fpr" && g.IsAlarm);
        Assert.Equal(6, result.Gaps.Count);
    }

    [Fact]
    public void AgainstTheStableVersion_AGapTheStableAlreadyHas_DoesNotAlert_ButAWidenedOneDoes()
    {
        List<(string, ConfusionCounts)> stable =
        [
            ("EU", Segment(positives: 2000, falseNegatives: 600, negatives: 20000, falsePositives: 400)),
            ("US", Segment(positives: 2000, falseNegatives: 200, negatives: 20000, falsePositives: 400)),
        ];
        List<(string, ConfusionCounts)> sameGap =
        [
            ("EU", Segment(positives: 2000, falseNegatives: 600, negatives: 20000, falsePositives: 400)),
            ("US", Segment(positives: 2000, falseNegatives: 200, negatives: 20000, falsePositives: 400)),
        ];
        List<(string, ConfusionCounts)> widened =
        [
            ("EU", Segment(positives: 2000, falseNegatives: 1200, negatives: 20000, falsePositives: 400)),
            ("US", Segment(positives: 2000, falseNegatives: 200, negatives: 20000, falsePositives: 400)),
        ];

        var inherited = FairnessEvaluator.Evaluate("region", sameGap, Fraud, DriftPolicy.Default, new SequentialState(), stable);
        var absolute = FairnessEvaluator.Evaluate("region", sameGap, Fraud, DriftPolicy.Default, new SequentialState());
        var regression = FairnessEvaluator.Evaluate("region", widened, Fraud, DriftPolicy.Default, new SequentialState(), stable);

        Assert.True(absolute.Alert, "inside the canary alone the 20-point gap alerts");
        Assert.False(inherited.Alert, inherited.Reason);
        Assert.True(regression.Alert, regression.Reason);
        var eu = Assert.Single(regression.Gaps, g => g.Segment == "EU" && g.Metric == "fnr");
        Assert.Equal(0.2, eu.ReferenceGap!.Value, 12);
        Assert.True(eu.LowerBound > DriftPolicy.Default.MaxFairnessGap, eu.ToString());
        Assert.Contains("region=EU", regression.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void EqualRates_DoNotAlert()
    {
        var segments = new List<(string, ConfusionCounts)>
        {
            ("EU", Segment(positives: 1000, falseNegatives: 100, negatives: 10000, falsePositives: 200)),
            ("US", Segment(positives: 2000, falseNegatives: 200, negatives: 20000, falsePositives: 400)),
        };

        var result = FairnessEvaluator.Evaluate("region", segments, Fraud, DriftPolicy.Default, new SequentialState());

        Assert.False(result.Alert);
        Assert.All(result.Gaps, g => Assert.True(g.Sufficient && !g.Significant && !g.Material, g.ToString()));
        Assert.StartsWith("no gap is both significant and material", result.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void SmallCounts_AreInsufficient_AndCannotAlert()
    {
        // FNR 0.50 vs 0.10 but on 10 positives per segment: expected false-negative cells are below 5.
        var segments = new List<(string, ConfusionCounts)>
        {
            ("EU", Segment(positives: 10, falseNegatives: 5, negatives: 40, falsePositives: 1)),
            ("US", Segment(positives: 10, falseNegatives: 1, negatives: 40, falsePositives: 1)),
        };

        var result = FairnessEvaluator.Evaluate("region", segments, Fraud, DriftPolicy.Default, new SequentialState());

        Assert.False(result.Alert);
        Assert.All(result.Gaps, g => Assert.False(g.Sufficient, g.ToString()));
        Assert.Contains("expected cell count >= 5", result.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void FprGap_IsMeasuredOverActualNegativesOfEveryOtherClass()
    {
        // Three classes, positive = 2. Negatives are actual classes 0 and 1; FP = negatives predicted as class 2.
        var eu = ConfusionCounts.FromRows([[750, 0, 250], [0, 850, 150], [10, 0, 90]]);
        var us = ConfusionCounts.FromRows([[950, 0, 50], [0, 950, 50], [10, 0, 90]]);

        var result = FairnessEvaluator.Evaluate(
            "region", [("EU", eu), ("US", us)], 2, DriftPolicy.Default, new SequentialState());

        var fpr = Assert.Single(result.Gaps, g => g.Segment == "EU" && g.Metric == "fpr");
        Assert.Equal(400.0 / 2000, fpr.SegmentRate, 15);
        Assert.Equal(100.0 / 2000, fpr.RestRate, 15);
        Assert.True(fpr.IsAlarm);
        Assert.True(result.Alert);
    }

    [Fact]
    public void State_IsKeptPerSegmentAndMetric()
    {
        var state = new SequentialState();
        var segments = new List<(string, ConfusionCounts)>
        {
            ("EU", Segment(positives: 1000, falseNegatives: 300, negatives: 10000, falsePositives: 200)),
            ("US", Segment(positives: 1000, falseNegatives: 100, negatives: 10000, falsePositives: 200)),
        };

        var result = FairnessEvaluator.Evaluate("region", segments, Fraud, DriftPolicy.Default, state);

        Assert.Equal(1, state.Looks);
        Assert.Equal(4, state.Snapshot().Count);
        Assert.Equal(
            result.Gaps.Single(g => g.Segment == "EU" && g.Metric == "fnr").AlwaysValidPValue,
            state.MinPValue("fnr:EU"));
    }

    [Fact]
    public void InvalidInput_Throws()
    {
        var counts = Segment(100, 10, 100, 10);

        Assert.Throws<ArgumentException>(() => FairnessEvaluator.Evaluate(
            "region", [("EU", counts), ("EU", counts)], Fraud, DriftPolicy.Default, new SequentialState()));
        Assert.Throws<ArgumentOutOfRangeException>(() => FairnessEvaluator.Evaluate(
            "region", [("EU", counts), ("US", counts)], 2, DriftPolicy.Default, new SequentialState()));
        Assert.Throws<ArgumentException>(() => FairnessEvaluator.Evaluate(
            "region", [("EU", counts), ("US", new ConfusionCounts(3))], Fraud, DriftPolicy.Default, new SequentialState()));
    }

    [Fact]
    public void SingleSegment_HasNothingToCompare()
    {
        var result = FairnessEvaluator.Evaluate(
            "region", [("EU", Segment(1000, 300, 1000, 10))], Fraud, DriftPolicy.Default, new SequentialState());

        Assert.False(result.Alert);
        Assert.Empty(result.Gaps);
    }

    private static ConfusionCounts Segment(long positives, long falseNegatives, long negatives, long falsePositives) =>
        ConfusionCounts.FromRows([[negatives - falsePositives, falsePositives], [falseNegatives, positives - falseNegatives]]);
}
