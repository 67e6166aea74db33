using ConfusionMatrix.Core.Drift;

namespace ConfusionMatrix.Core.Tests.Drift;

public sealed class DriftEvaluatorTests
{
    private static readonly string[] FraudNames = ["legit", "fraud"];

    /// <summary>Binary fraud counts: rows legit (0) and fraud (1).</summary>
    private static ConfusionCounts Fraud(long legit, double falsePositiveRate, long fraud, double recall)
    {
        long fp = (long)Math.Round(legit * falsePositiveRate), tp = (long)Math.Round(fraud * recall);
        return ConfusionCounts.FromRows([[legit - fp, fp], [fraud - tp, tp]]);
    }

    [Fact]
    public void StoryDrop_IsDrift_WithTheLowerBoundAboveTheTolerance_ButNotSevere()
    {
        var reference = Fraud(96_000, 0.01, 4_000, 0.92);
        var live = Fraud(96_000, 0.01, 4_000, 0.78);

        var result = DriftEvaluator.Evaluate(live, reference, DriftPolicy.Default, new SequentialState(), FraudNames);

        Assert.Equal(DriftDecision.Drift, result.Decision);
        var recall = Assert.Single(result.ClassDeltas, d => d.Metric == "recall" && d.ClassIndex == 1);
        Assert.True(recall.Significant && !recall.Severe, recall.ToString());
        Assert.True(recall.LowerBound > DriftPolicy.Default.Tolerance && recall.LowerBound < 0.14 && recall.UpperBound > 0.14, recall.ToString());
        Assert.StartsWith("recall of 'fraud' fell from 0.920 to 0.780", result.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void DropOf014_NeverBecomesSevere_HoweverLargeTheSample()
    {
        var reference = Fraud(9_600_000, 0.01, 400_000, 0.92);
        var live = Fraud(9_600_000, 0.01, 400_000, 0.78);

        var result = DriftEvaluator.Evaluate(live, reference, DriftPolicy.Default, new SequentialState());

        Assert.Equal(DriftDecision.Drift, result.Decision);
        Assert.True(result.ClassDeltas.Max(d => d.LowerBound) < DriftPolicy.Default.SevereDrop);
    }

    [Fact]
    public void DropOf030_IsSevere_OnceItsLowerBoundReachesTheSevereThreshold()
    {
        var reference = Fraud(96_000, 0.01, 4_000, 0.92);
        var live = Fraud(96_000, 0.01, 4_000, 0.62);

        var result = DriftEvaluator.Evaluate(live, reference, DriftPolicy.Default, new SequentialState());

        Assert.Equal(DriftDecision.Severe, result.Decision);
        var recall = Assert.Single(result.ClassDeltas, d => d.Severe);
        Assert.True(recall.LowerBound >= DriftPolicy.Default.SevereDrop, recall.ToString());
    }

    [Fact]
    public void PrevalenceShift_WithTheSameRecallAndFalsePositiveRate_IsNoDrift()
    {
        // Precision against the holdout falls 0.79 -> 0.74 here; it is not what the evaluator acts on.
        var holdout = Fraud(192_000, 0.01, 8_000, 0.92);
        var live = Fraud(194_000, 0.01, 6_000, 0.92);

        var result = DriftEvaluator.Evaluate(live, holdout, DriftPolicy.Default, new SequentialState());

        Assert.Equal(DriftDecision.NoDrift, result.Decision);
        Assert.DoesNotContain(result.ClassDeltas, d => d.Metric == "precision");
        Assert.True(result.Divergence.Kl < 0.001, result.Divergence.ToString());
    }

    [Fact]
    public void UnchangedModelOnLotsOfData_IsShownWithinTheTolerance()
    {
        var reference = Fraud(960_000, 0.01, 40_000, 0.92);
        var live = Fraud(960_000, 0.01, 40_000, 0.92);

        var result = DriftEvaluator.Evaluate(live, reference, DriftPolicy.Default, new SequentialState());

        Assert.Equal(DriftDecision.NoDrift, result.Decision);
        Assert.True(result.NonInferior);
        Assert.All(result.ClassDeltas, d => Assert.True(d.UpperBound < DriftPolicy.Default.Tolerance, d.ToString()));
    }

    [Fact]
    public void TinySamples_AreInsufficientEvidence_EvenWithALargeDrop()
    {
        var reference = Fraud(90, 0.01, 10, 0.9);
        var live = Fraud(90, 0.01, 10, 0.1);

        var result = DriftEvaluator.Evaluate(live, reference, DriftPolicy.Default, new SequentialState());

        Assert.Equal(DriftDecision.InsufficientEvidence, result.Decision);
        Assert.False(result.NonInferior);
    }

    [Fact]
    public void WithMoreThanTwoClasses_FalsePositiveRatesAreTestedToo()
    {
        var reference = ConfusionCounts.FromRows([[9000, 500, 500], [500, 9000, 500], [500, 500, 9000]]);

        // Class 2 now also swallows many items of class 0: FPR into class 2 rises by about 0.15.
        var live = ConfusionCounts.FromRows([[6000, 500, 3500], [500, 9000, 500], [500, 500, 9000]]);

        var result = DriftEvaluator.Evaluate(live, reference, DriftPolicy.Default, new SequentialState());

        Assert.Equal(6, result.ClassDeltas.Count);
        var fpr = Assert.Single(result.ClassDeltas, d => d.Metric == "fpr" && d.ClassIndex == 2);
        Assert.True(fpr.Significant && fpr.Drop > 0.1, fpr.ToString());
        Assert.StartsWith("recall of class 0 fell", result.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Bounds_AreMonotoneAcrossLooks_WhileTheCountsAccumulate()
    {
        var random = new Random(5);
        var state = new SequentialState();
        var reference = new ConfusionCounts(2);
        var live = new ConfusionCounts(2);
        double lastUpper = double.PositiveInfinity, lastLower = double.NegativeInfinity;
        for (var look = 0; look < 40; look++)
        {
            FraudModel healthy = new(0.05, 0.92, 0.01);
            healthy.Draw(random, reference, 4000);
            (healthy with { Recall = 0.85 }).Draw(random, live, 1000);
            var result = DriftEvaluator.Evaluate(live, reference, DriftPolicy.Default, state);
            var recall = Assert.Single(result.ClassDeltas, d => d.Metric == "recall" && d.ClassIndex == 1);
            if (recall.Sufficient)
            {
                Assert.True(recall.UpperBound <= lastUpper, $"upper bound rose at look {look}");
                Assert.True(recall.LowerBound >= lastLower, $"lower bound fell at look {look}");
                (lastUpper, lastLower) = (recall.UpperBound, recall.LowerBound);
            }
        }

        Assert.Equal(40, state.Looks);
        Assert.True(lastLower > 0 && lastUpper < 0.2, $"[{lastLower}, {lastUpper}] should close in on the true drop 0.07");
    }

    [Fact]
    public void Family_UsesEBH_SoSeveralDiscoveriesRelaxEachLevel()
    {
        var reference = Fraud(96_000, 0.01, 4_000, 0.92);
        var live = Fraud(96_000, 0.01, 4_000, 0.80);
        var same = Fraud(96_000, 0.01, 4_000, 0.92);
        var policy = DriftPolicy.Default;

        var family = DriftEvaluator.EvaluateFamily(
            [
                new DriftComparison(live, reference, new SequentialState()),
                new DriftComparison(live, reference, new SequentialState()),
                new DriftComparison(same, reference, new SequentialState()),
                new DriftComparison(same, reference, new SequentialState()),
            ],
            policy);

        Assert.Equal([DriftDecision.Drift, DriftDecision.Drift, DriftDecision.NoDrift, DriftDecision.NoDrift], family.Select(a => a.Decision));

        // Two discoveries among four segments of two comparisons each: level alpha * 2 / (4 * 2).
        Assert.All(family, a => Assert.All(a.ClassDeltas, d => Assert.Equal(policy.Alpha * 2 / 8, d.Level, 12)));
        Assert.True(family[0].EValue >= EValues.Threshold(4, 2, policy.Alpha));
    }

    [Fact]
    public void Omnibus_SpendsAlphaByInformation_NotByLooks()
    {
        var reference = Fraud(9_600, 0.01, 400, 0.92);
        var live = Fraud(9_600, 0.01, 400, 0.92);
        var state = new SequentialState();

        var first = DriftEvaluator.Evaluate(live, reference, DriftPolicy.Default, state);
        var again = DriftEvaluator.Evaluate(live, reference, DriftPolicy.Default, state);

        // The second look adds no information, so it may spend nothing: its adjusted p-value is 1.
        Assert.True(first.OmnibusAdjustedPValue <= 1);
        Assert.Equal(1, again.OmnibusAdjustedPValue);
        var information = 10_000.0 * 10_000 / 20_000;
        Assert.Equal(information / (information + DriftPolicy.Default.OmnibusHalfInformation), state.Get("omnibus:spent", 0), 12);
    }

    [Fact]
    public void MismatchedClassCounts_Throw()
    {
        Assert.Throws<ArgumentException>(() => DriftEvaluator.Evaluate(
            new ConfusionCounts(2), new ConfusionCounts(3), DriftPolicy.Default, new SequentialState()));
    }
}
