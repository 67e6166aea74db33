using ConfusionMatrix.Core.Drift;

namespace ConfusionMatrix.Core.Tests.Drift;

public sealed class DriftEvaluatorTests
{
    private static readonly string[] FraudNames = ["legit", "fraud"];

    [Fact]
    public void RecallDrop15Pct_IsSevere_EvenThoughKlAloneWouldMissIt()
    {
        var (live, baseline) = LoadReference("recall-drop-15pct");
        DriftPolicy policy = DriftPolicy.Default;

        DriftAssessment result = DriftEvaluator.Evaluate(live, baseline, policy, new SequentialState());

        Assert.True(result.Divergence.Kl < policy.KlThreshold, $"KL {result.Divergence.Kl} should be below the KL threshold");
        Assert.Equal(0.0074056682973679296, result.Divergence.Kl, 12);
        Assert.Equal(DriftDecision.Severe, result.Decision);
        Assert.StartsWith("recall of class 1 fell from 0.925 to 0.725 (-0.200, ", result.Reason, StringComparison.Ordinal);
        ClassDelta recall = Single(result, "recall", 1);
        Assert.True(recall.Sufficient && recall.Significant && recall.Material);
        Assert.Equal(0.2, recall.Drop, 12);
        Assert.Equal(1.65684056267567e-05, recall.AlwaysValidPValue, 12);
        Assert.Equal(400, recall.ReferenceDenominator);
        Assert.Equal(200, recall.LiveDenominator);
    }

    [Fact]
    public void RecallDrop15Pct_ReasonUsesClassNames()
    {
        var (live, baseline) = LoadReference("recall-drop-15pct");

        DriftAssessment result = DriftEvaluator.Evaluate(live, baseline, DriftPolicy.Default, new SequentialState(), FraudNames);

        Assert.Equal(
            "recall of 'fraud' fell from 0.925 to 0.725 (-0.200, always-valid p=1.7e-05 <= 0.0025) over 200 vs 400 actual 'fraud'",
            result.Reason);
    }

    [Fact]
    public void RecallDrop15Pct_WithAHigherSevereThreshold_IsDrift()
    {
        var (live, baseline) = LoadReference("recall-drop-15pct");

        DriftAssessment result = DriftEvaluator.Evaluate(
            live, baseline, DriftPolicy.Default with { SevereDrop = 0.25 }, new SequentialState());

        Assert.Equal(DriftDecision.Drift, result.Decision);
    }

    [Fact]
    public void SameShape_IsNoDrift()
    {
        var (live, baseline) = LoadReference("same-shape");

        DriftAssessment result = DriftEvaluator.Evaluate(live, baseline, DriftPolicy.Default, new SequentialState(), FraudNames);

        Assert.Equal(DriftDecision.NoDrift, result.Decision);
        Assert.All(result.ClassDeltas, d => Assert.True(d.Sufficient, $"{d.Metric}:{d.ClassIndex} should be sufficient"));
        Assert.DoesNotContain(result.ClassDeltas, d => d.IsAlarm);
        Assert.StartsWith("no drop is both significant and material", result.Reason, StringComparison.Ordinal);
        Assert.Equal(5000, result.LiveTotal);
        Assert.Equal(10000, result.ReferenceTotal);
    }

    [Fact]
    public void TinySamples_AreInsufficientEvidence_EvenWithALargeDrop()
    {
        var baseline = ConfusionCounts.FromRows([[9500, 100], [30, 370]]);
        var live = ConfusionCounts.FromRows([[90, 2], [4, 4]]);

        DriftAssessment result = DriftEvaluator.Evaluate(live, baseline, DriftPolicy.Default, new SequentialState());

        Assert.Equal(DriftDecision.InsufficientEvidence, result.Decision);
        Assert.Equal(0.425, Single(result, "recall", 1).Drop, 12);
        Assert.Contains("100 live", result.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void EnoughPredictions_ButNoComparisonMeetsTheExpectedCellRule_IsInsufficientEvidence()
    {
        // Every prediction is a correct 'legit': the pooled recall of class 0 is 1, so its failure cells expect 0.
        var baseline = ConfusionCounts.FromRows([[500, 0], [0, 0]]);
        var live = ConfusionCounts.FromRows([[300, 0], [0, 0]]);

        DriftAssessment result = DriftEvaluator.Evaluate(live, baseline, DriftPolicy.Default, new SequentialState());

        Assert.Equal(DriftDecision.InsufficientEvidence, result.Decision);
        Assert.DoesNotContain(result.ClassDeltas, d => d.Sufficient);
        Assert.Contains("expected cell count >= 5", result.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void HugeSampleTinyEffect_IsSignificantButImmaterial_SoNoAlarm()
    {
        // Recall 0.900 -> 0.895 on 10^7 actual positives per side: overwhelming evidence of a 0.005 drop nobody should be paged for.
        var baseline = ConfusionCounts.FromRows([[9_900_000, 100_000], [1_000_000, 9_000_000]]);
        var live = ConfusionCounts.FromRows([[9_900_000, 100_000], [1_050_000, 8_950_000]]);

        DriftAssessment result = DriftEvaluator.Evaluate(live, baseline, DriftPolicy.Default, new SequentialState());

        ClassDelta recall = Single(result, "recall", 1);
        Assert.True(recall.Sufficient);
        Assert.True(recall.Significant, $"p={recall.AlwaysValidPValue} should be below {recall.Threshold}");
        Assert.False(recall.Material);
        Assert.Equal(0.005, recall.Drop, 9);
        Assert.True(result.Divergence.Kl < DriftPolicy.Default.KlThreshold);
        Assert.Equal(DriftDecision.NoDrift, result.Decision);
    }

    [Fact]
    public void LargeEffectOnNoise_IsMaterialButNotSignificant_SoNoAlarm()
    {
        // Recall 0.90 -> 0.80 on 40 actual positives: a 0.10 drop, but 40 positives cannot tell it from noise.
        var baseline = ConfusionCounts.FromRows([[3600, 0], [4, 36]]);
        var live = ConfusionCounts.FromRows([[3600, 0], [8, 32]]);

        DriftAssessment result = DriftEvaluator.Evaluate(live, baseline, DriftPolicy.Default, new SequentialState());

        ClassDelta recall = Single(result, "recall", 1);
        Assert.True(recall.Sufficient);
        Assert.True(recall.Material);
        Assert.False(recall.Significant);
        Assert.Equal(DriftDecision.NoDrift, result.Decision);
    }

    [Theory]
    [InlineData(2, 0.01, 0.0025)]
    [InlineData(5, 0.01, 0.001)]
    [InlineData(10, 0.05, 0.0025)]
    public void PerClassThreshold_IsBonferroniOverRecallAndPrecisionOfEveryClass(int k, double alpha, double expected)
    {
        var counts = new ConfusionCounts(k);
        for (int c = 0; c < k; c++)
        {
            counts.Add(c, c, 100);
            counts.Add(c, (c + 1) % k, 10);
        }

        DriftAssessment result = DriftEvaluator.Evaluate(
            counts, counts.Clone(), DriftPolicy.Default with { Alpha = alpha }, new SequentialState());

        Assert.Equal(2 * k, result.ClassDeltas.Count);
        Assert.All(result.ClassDeltas, d => Assert.Equal(expected, d.Threshold, 15));
        Assert.Equal(k, result.ClassDeltas.Count(d => d.Metric == "recall"));
        Assert.Equal(k, result.ClassDeltas.Count(d => d.Metric == "precision"));
    }

    [Fact]
    public void Omnibus_SpendsAlphaOverLooks()
    {
        // Cells move between classes: recall drop 0.10 is not significant on 100 positives, but the joint shift is
        // large (KL 0.15) and the G-test p = 8.5e-5.
        var (live, baseline) = LoadReference("zero-cells");
        const double gPValue = 8.491864634542994e-05;

        DriftAssessment first = DriftEvaluator.Evaluate(live, baseline, DriftPolicy.Default, new SequentialState());
        DriftAssessment hundredth = DriftEvaluator.Evaluate(
            live, baseline, DriftPolicy.Default, SequentialState.Restore(99, new Dictionary<string, double>()));

        Assert.DoesNotContain(first.ClassDeltas, d => d.IsAlarm);
        Assert.Equal(gPValue * Math.PI * Math.PI / 6, first.OmnibusAdjustedPValue, 12);
        Assert.Equal(DriftDecision.Drift, first.Decision);
        Assert.StartsWith("the joint confusion matrix shifted: KL=0.1525", first.Reason, StringComparison.Ordinal);

        // Look 100 may only spend alpha * 6 / (pi^2 * 100^2) = 6.1e-7 < 8.5e-5.
        Assert.True(gPValue * Math.PI * Math.PI * 10000 / 6 > 1);
        Assert.Equal(1, hundredth.OmnibusAdjustedPValue);
        Assert.Equal(DriftDecision.NoDrift, hundredth.Decision);
    }

    [Fact]
    public void Omnibus_SignificantButBelowTheKlThreshold_DoesNotAlarmOnItsOwn()
    {
        var (live, baseline) = LoadReference("recall-drop-15pct");
        var policy = DriftPolicy.Default with { MinRecallDrop = 0.5, MinPrecisionDrop = 0.5, SevereDrop = 0.6 };

        DriftAssessment result = DriftEvaluator.Evaluate(live, baseline, policy, new SequentialState());

        Assert.True(result.OmnibusAdjustedPValue < policy.Alpha);
        Assert.Equal(DriftDecision.NoDrift, result.Decision);
        Assert.Contains("joint matrix differs significantly but KL=0.0074 < 0.02", result.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Evaluate_CallsNextLookOnce_AndStoresTheRunningMinimumPerComparison()
    {
        var (live, baseline) = LoadReference("recall-drop-15pct");
        var state = new SequentialState();

        DriftEvaluator.Evaluate(live, baseline, DriftPolicy.Default, state);

        Assert.Equal(1, state.Looks);
        Assert.Equal(1.65684056267567e-05, state.MinPValue("recall:1"), 12);
        Assert.Equal(state.MinPValue("recall:1"), state.Snapshot()["recall:1"]);
    }

    [Fact]
    public void AlwaysValidPValues_NeverIncreaseAcrossLooks_WhileTheLiveCountsAccumulate()
    {
        var baseline = ConfusionCounts.FromRows([[9500, 100], [30, 370]]);
        var live = new ConfusionCounts(2);
        var state = new SequentialState();
        var random = new Random(7);
        var previous = new Dictionary<string, double>();
        for (int look = 0; look < 30; look++)
        {
            for (int i = 0; i < 400; i++)
            {
                bool fraud = random.NextDouble() < 0.04;
                bool correct = random.NextDouble() < (fraud ? 0.85 : 0.99);
                live.Add(fraud ? 1 : 0, fraud == correct ? 1 : 0);
            }

            DriftAssessment result = DriftEvaluator.Evaluate(live, baseline, DriftPolicy.Default, state);

            foreach (ClassDelta delta in result.ClassDeltas)
            {
                string key = $"{delta.Metric}:{delta.ClassIndex}";
                if (previous.TryGetValue(key, out double before))
                {
                    Assert.True(delta.AlwaysValidPValue <= before, $"{key} rose from {before} to {delta.AlwaysValidPValue} at look {look + 1}");
                }

                previous[key] = delta.AlwaysValidPValue;
            }
        }

        Assert.Equal(30, state.Looks);
        Assert.True(previous["recall:1"] < 1, "recall of class 1 is lower live, so its p-value must have moved");
    }

    [Fact]
    public void Improvements_DoNotSpendEvidence()
    {
        // Live recall and precision of class 1 are better than the reference: no drop evidence accumulates.
        var baseline = ConfusionCounts.FromRows([[9000, 500], [150, 350]]);
        var live = ConfusionCounts.FromRows([[9400, 100], [20, 480]]);
        var state = new SequentialState();

        DriftAssessment result = DriftEvaluator.Evaluate(live, baseline, DriftPolicy.Default, state);

        ClassDelta recall = Single(result, "recall", 1);
        Assert.True(recall.Drop < 0);
        Assert.Equal(1, recall.AlwaysValidPValue);
        Assert.Equal(1, state.MinPValue("recall:1"));
        Assert.All(result.ClassDeltas, d => Assert.False(d.IsAlarm || d.Drop > 0, $"{d.Metric}:{d.ClassIndex} improved"));
    }

    [Fact]
    public void MismatchedClassCounts_Throw()
    {
        Assert.Throws<ArgumentException>(() => DriftEvaluator.Evaluate(
            new ConfusionCounts(2), new ConfusionCounts(3), DriftPolicy.Default, new SequentialState()));
    }

    private static ClassDelta Single(DriftAssessment result, string metric, int classIndex) =>
        Assert.Single(result.ClassDeltas, d => d.Metric == metric && d.ClassIndex == classIndex);

    private static (ConfusionCounts Live, ConfusionCounts Baseline) LoadReference(string name)
    {
        var testCase = ReferenceData.DivergenceCase(ReferenceData.InRepo, name);
        return (
            ConfusionCounts.FromRows(ReferenceData.Matrix(testCase.GetProperty("live"))),
            ConfusionCounts.FromRows(ReferenceData.Matrix(testCase.GetProperty("baseline"))));
    }
}
