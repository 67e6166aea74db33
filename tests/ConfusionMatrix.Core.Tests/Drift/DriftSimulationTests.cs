using System.Globalization;
using ConfusionMatrix.Core.Drift;
using Xunit.Abstractions;

namespace ConfusionMatrix.Core.Tests.Drift;

/// <summary>
/// Monte Carlo checks of the monitoring loop as it runs in production: a fixed holdout reference, live counts that
/// accumulate since the epoch start, and a look after every 500 predictions.
/// </summary>
public sealed class DriftSimulationTests(ITestOutputHelper output)
{
    private const int Step = 500;
    private const int HoldoutSize = 20000;

    [Fact]
    public void NoDrift_FalseAlarmRateOverRepeatedLooks_StaysWithinAlpha()
    {
        const int runs = 1000;
        const int looks = 40;
        var policy = DriftPolicy.Default;
        var model = FraudModel.FromRecallAndPrecision(0.05, 0.90, 0.80);
        var random = new Random(20240611);
        int sequentialAlarms = 0, sequentialSignificant = 0, naiveSignificant = 0, naiveAlarms = 0;

        for (var run = 0; run < runs; run++)
        {
            var holdout = new ConfusionCounts(2);
            model.Draw(random, holdout, HoldoutSize);
            var live = new ConfusionCounts(2);
            var state = new SequentialState();
            bool alarm = false, significant = false, naiveSig = false, naiveAlarm = false;
            for (var look = 0; look < looks; look++)
            {
                model.Draw(random, live, Step);
                var result = DriftEvaluator.Evaluate(live, holdout, policy, state);
                alarm |= result.Decision >= DriftDecision.Drift;
                significant |= result.ClassDeltas.Any(d => d.Significant);
                var enough = result.Decision != DriftDecision.InsufficientEvidence;
                foreach (var delta in result.ClassDeltas)
                {
                    if (enough && delta.Sufficient && delta.Drop > 0 && NaivePValue(delta) <= delta.Level)
                    {
                        naiveSig = true;
                        naiveAlarm |= delta.Drop > policy.Tolerance;
                    }
                }
            }

            sequentialAlarms += alarm ? 1 : 0;
            sequentialSignificant += significant ? 1 : 0;
            naiveSignificant += naiveSig ? 1 : 0;
            naiveAlarms += naiveAlarm ? 1 : 0;
        }

        var bound = policy.Alpha + (3 * Math.Sqrt(policy.Alpha * (1 - policy.Alpha) / runs));
        output.WriteLine($"{runs} no-drift runs x {looks} looks of {Step} predictions, prevalence 5%, recall 0.90, precision 0.80, holdout {HoldoutSize}");
        output.WriteLine($"runs with any Drift/Severe (sequential mSPRT + spending): {Rate(sequentialAlarms, runs)}  (bound {bound:0.0000})");
        output.WriteLine($"runs with any significant per-class drop (sequential, ignoring materiality): {Rate(sequentialSignificant, runs)}");
        output.WriteLine($"runs with any significant drop, naive per-look z-test at alpha/(2K): {Rate(naiveSignificant, runs)}");
        output.WriteLine($"runs with any significant AND material drop, naive per-look z-test: {Rate(naiveAlarms, runs)}");

        Assert.True(sequentialAlarms / (double)runs <= bound, $"false-alarm rate {Rate(sequentialAlarms, runs)} exceeds {bound}");
        Assert.True(sequentialSignificant / (double)runs <= bound, $"sequential significance rate {Rate(sequentialSignificant, runs)} exceeds {bound}");
        Assert.True(naiveSignificant > sequentialSignificant, "repeated naive looks must inflate the significance rate");
    }

    [Fact]
    public void NoDrift_CanaryAgainstStableOverTheSameEpoch_FalseAlarmRateStaysWithinAlpha()
    {
        // Reference mode 2: both the canary and the stable version accumulate since the epoch start.
        const int runs = 1000;
        const int looks = 40;
        var policy = DriftPolicy.Default;
        var model = FraudModel.FromRecallAndPrecision(0.05, 0.90, 0.80);
        var random = new Random(777);
        var alarms = 0;

        for (var run = 0; run < runs; run++)
        {
            var canary = new ConfusionCounts(2);
            var stable = new ConfusionCounts(2);
            var state = new SequentialState();
            var alarm = false;
            for (var look = 0; look < looks && !alarm; look++)
            {
                model.Draw(random, canary, Step);
                model.Draw(random, stable, 4 * Step);
                alarm = DriftEvaluator.Evaluate(canary, stable, policy, state).Decision >= DriftDecision.Drift;
            }

            alarms += alarm ? 1 : 0;
        }

        var bound = policy.Alpha + (3 * Math.Sqrt(policy.Alpha * (1 - policy.Alpha) / runs));
        output.WriteLine($"canary (500/look) vs stable (2000/look), {runs} runs x {looks} looks: runs with any Drift/Severe {Rate(alarms, runs)} (bound {bound:0.0000})");
        Assert.True(alarms / (double)runs <= bound);
    }

    [Fact]
    public void Fairness_EqualRatesAcrossSegments_FalseAlertRateStaysWithinAlpha()
    {
        const int runs = 500;
        const int looks = 40;
        var policy = DriftPolicy.Default;
        var model = FraudModel.FromRecallAndPrecision(0.05, 0.90, 0.80);
        var random = new Random(4242);
        var alerts = 0;

        for (var run = 0; run < runs; run++)
        {
            var segments = new List<(string Segment, ConfusionCounts Counts)>
            {
                ("EU", new ConfusionCounts(2)), ("US", new ConfusionCounts(2)), ("APAC", new ConfusionCounts(2)),
            };
            var state = new SequentialState();
            var alert = false;
            for (var look = 0; look < looks && !alert; look++)
            {
                foreach ((var _, var counts) in segments)
                {
                    model.Draw(random, counts, Step);
                }

                alert = FairnessEvaluator.Evaluate("region", segments, 1, policy, state).Alert;
            }

            alerts += alert ? 1 : 0;
        }

        var bound = policy.Alpha + (3 * Math.Sqrt(policy.Alpha * (1 - policy.Alpha) / runs));
        output.WriteLine($"fairness, 3 equal segments x 500/look, {runs} runs x {looks} looks: runs with any alert {Rate(alerts, runs)} (bound {bound:0.0000})");
        Assert.True(alerts / (double)runs <= bound);
    }

    [Fact]
    public void Fairness_FnrGapOf20Points_IsDetected()
    {
        // EU misses 30% of fraud, US and APAC 10%: every run must alert within 40 looks of 500 predictions per segment.
        const int runs = 50;
        var policy = DriftPolicy.Default;
        var fair = FraudModel.FromRecallAndPrecision(0.05, 0.90, 0.80);
        var unfair = fair with { Recall = 0.70 };
        var random = new Random(99);
        var delays = new List<long>();
        var namedEuFirst = 0;

        for (var run = 0; run < runs; run++)
        {
            var eu = new ConfusionCounts(2);
            var us = new ConfusionCounts(2);
            var apac = new ConfusionCounts(2);
            var state = new SequentialState();
            for (var look = 1; look <= 40; look++)
            {
                unfair.Draw(random, eu, Step);
                fair.Draw(random, us, Step);
                fair.Draw(random, apac, Step);
                var result = FairnessEvaluator.Evaluate("region", [("EU", eu), ("US", us), ("APAC", apac)], 1, policy, state);
                if (result.Alert)
                {
                    namedEuFirst += result.Reason.StartsWith("FNR of region=EU is", StringComparison.Ordinal) ? 1 : 0;
                    Assert.True(
                        result.Reason.StartsWith("FNR of region=EU is", StringComparison.Ordinal)
                        || result.Reason.Contains("; the highest FNR is region=EU at", StringComparison.Ordinal),
                        result.Reason);
                    delays.Add(look * Step);
                    break;
                }
            }
        }

        delays.Sort();
        output.WriteLine($"fairness FNR 0.30 vs 0.10: alerted in {delays.Count}/{runs} runs; median predictions per segment until alert {delays[delays.Count / 2]}; reason led with EU's FNR in {namedEuFirst} (the others led with a segment better than a rest that contains EU, and named EU as highest)");
        Assert.Equal(runs, delays.Count);
        Assert.True(namedEuFirst >= 0.8 * runs, $"the harmed segment led the reason in only {namedEuFirst}/{runs} alerts");
    }

    [Theory]
    [InlineData(0.01, false)]
    [InlineData(0.05, true)]
    [InlineData(0.20, true)]
    public void RecallDropOf15PctRelative_IsDetected_WithMeasuredDelay(double prevalence, bool mustDetect)
    {
        const int runs = 50;
        const long cap = 400_000;
        var policy = DriftPolicy.Default;
        var healthy = FraudModel.FromRecallAndPrecision(prevalence, 0.90, 0.80);
        var drifted = healthy with { Recall = 0.765 };
        var random = new Random(1000 + (int)(prevalence * 1000));
        var delays = new List<long>();
        var findings = new SortedDictionary<string, int>(StringComparer.Ordinal);
        var severe = 0;

        for (var run = 0; run < runs; run++)
        {
            var holdout = new ConfusionCounts(2);
            healthy.Draw(random, holdout, HoldoutSize);
            var live = new ConfusionCounts(2);
            var state = new SequentialState();
            for (long seen = Step; seen <= cap; seen += Step)
            {
                drifted.Draw(random, live, Step);
                var result = DriftEvaluator.Evaluate(live, holdout, policy, state);
                if (result.Decision >= DriftDecision.Drift)
                {
                    delays.Add(seen);
                    var finding = Finding(result.Reason);
                    findings[finding] = findings.GetValueOrDefault(finding) + 1;
                    severe += result.Decision == DriftDecision.Severe ? 1 : 0;
                    break;
                }
            }
        }

        delays.Sort();
        var median = delays.Count * 2 > runs ? delays[(runs - 1) / 2].ToString(CultureInfo.InvariantCulture) : "not reached";
        output.WriteLine(
            $"prevalence {prevalence:P0}: recall 0.90 -> 0.765, detected in {delays.Count}/{runs} runs within {cap} predictions; " +
            $"median predictions until Drift/Severe {median}; min {(delays.Count > 0 ? delays[0] : 0)}, " +
            $"max {(delays.Count > 0 ? delays[^1] : 0)}; Severe in {severe}; first alarm by finding: " +
            string.Join(", ", findings.Select(f => $"{f.Key} {f.Value}")));

        // Recall of 'legit' is unchanged by this drift (same false-positive rate): it must never be the finding.
        Assert.False(findings.ContainsKey("recall of class 0"), "an unchanged metric was reported as the drift");
        Assert.Equal(delays.Count, findings.Values.Sum());
        if (mustDetect)
        {
            Assert.True(delays.Count >= 0.9 * runs, $"detected in only {delays.Count}/{runs} runs");
        }
        else
        {
            Assert.True(delays.Count > runs / 2, $"detected in only {delays.Count}/{runs} runs at 1% prevalence");
        }
    }

    /// <summary>Fixed-horizon two-sided z-test p-value on the same difference and variance (what a naive monitor would use).</summary>
    private static double NaivePValue(ClassDelta delta)
    {
        var referenceSuccesses = (long)Math.Round(delta.Reference * delta.ReferenceDenominator);
        var liveSuccesses = (long)Math.Round(delta.Live * delta.LiveDenominator);
        var variance = ProportionMath.DifferenceVariance(
            referenceSuccesses, delta.ReferenceDenominator, liveSuccesses, delta.LiveDenominator);
        return 2 * SpecialFunctions.NormalSurvival(Math.Abs(delta.Drop) / Math.Sqrt(variance));
    }

    /// <summary>The metric a reason names first: "recall of class 1", "joint matrix", ...</summary>
    private static string Finding(string reason)
    {
        if (reason.StartsWith("the joint confusion matrix", StringComparison.Ordinal))
        {
            return "joint matrix";
        }

        var fell = reason.IndexOf(" fell ", StringComparison.Ordinal);
        return fell > 0 ? reason[..fell] : reason;
    }

    private static string Rate(int count, int runs) => $"{count}/{runs} = {count / (double)runs:0.000}";
}
