using System.Diagnostics;
using ConfusionMatrix.Core;
using ConfusionMatrix.Core.Drift;

namespace ConfusionMatrix.Bench;

/// <summary>
/// Seeded simulation of the drift decisions (docs/statistics.md, "Measured"): false alarms across 13 segments,
/// prevalence shift against a holdout, detection delay against the fixed-horizon sample size, rollback on a true drop of
/// 0.14 and 0.30, label delay, the gate with nothing judged, and the excess KL of no drift at K = 2, 10, 50.
/// A fraud model (class 1 = fraud): stable recall 0.92, false-positive rate 0.01 (precision 0.79 at 4% prevalence).
/// Every segment sees a look every 500 predictions, 10% of them served by the canary. Default policy throughout.
/// </summary>
public static class DriftSimulation
{
    private const int Segments = 13;
    private const int LookSize = 500;
    private const double CanaryShare = 0.10;
    private const double StableRecall = 0.92;
    private const double FalsePositiveRate = 0.01;

    public static void Run(bool quick, string resultsDir)
    {
        var results = new Results(resultsDir, "drift");
        var policy = DriftPolicy.Default;
        var runs = quick ? 200 : 1000;
        var rows = new List<string[]>();
        var total = Stopwatch.StartNew();

        // 1. Unchanged model, 13 segments, canary against stable over the same epoch.
        const int nullLooks = 100;
        var anyAlarm = CountRuns(runs, seed => NullEpochAlarms(seed, policy, nullLooks));
        results.Set("drift_null_any_alarm_rate", (double)anyAlarm / runs);
        rows.Add(["unchanged model, 13 segments, any alarm per epoch", $"{anyAlarm}/{runs} epochs", "<= 1%", $"{nullLooks} looks x 500 predictions per segment"]);

        // 2. Unchanged model, prevalence 4% -> 3%, against a 20k holdout drawn at 4%.
        var prevalenceAlarms = CountRuns(runs, seed => PrevalenceShiftAlarms(seed, policy, looks: 200));
        results.Set("drift_prevalence_shift_alarm_rate", (double)prevalenceAlarms / runs);
        rows.Add(["prevalence 4% -> 3% vs 20k holdout, drift", $"{prevalenceAlarms}/{runs} runs", "<= 1%", "200 looks (100k live predictions), precision 0.80 -> 0.75"]);

        // 3. The story's drop 0.92 -> 0.78 on one of 13 segments: detection in canary predictions vs fixed horizon.
        foreach (var prevalence in (double[])[0.01, 0.05, 0.20])
        {
            var fixedHorizon = FixedHorizonCanaryPredictions(prevalence, StableRecall, 0.78, policy);
            var delays = Detections(runs, prevalence, 0.78, policy, maxLooks: (int)Math.Ceiling(6 * fixedHorizon / (LookSize * CanaryShare)));
            double median = Stats.Median(delays) / fixedHorizon, p80 = Stats.Percentile(delays, 80) / fixedHorizon;
            var key = $"drift_detect_p{prevalence * 100:0}";
            results.Set(key + "_median_ratio", median);
            results.Set(key + "_p80_ratio", p80);
            results.Set(key + "_fixed_horizon", fixedHorizon);
            results.Set(key + "_undetected", runs - delays.Count(d => !double.IsPositiveInfinity(d)));
            rows.Add([$"drop 0.92 -> 0.78 at {prevalence:P0} prevalence: median / p80 delay", $"{median:0.00}x / {p80:0.00}x", "<= 2x / <= 3x", $"fixed horizon {fixedHorizon:0} canary predictions"]);
        }

        // 4. Rollback (severe) on a true drop of 0.14 and of 0.30 at 5% prevalence; the paused canary keeps its weight.
        foreach (var drop in (double[])[0.14, 0.30])
        {
            var severe = CountRuns(runs, seed => SevereWithin(seed, 0.05, StableRecall - drop, policy, looks: 600));
            results.Set($"drift_rollback_drop{drop * 100:0}_rate", (double)severe / runs);
            rows.Add([$"true drop {drop:0.00} at 5% prevalence: rollback", $"{severe}/{runs} runs", drop < policy.SevereDrop ? "<= 1%" : ">= 95%", "600 looks (300k predictions per segment)"]);
        }

        // 5. Label delay: predicted fraud labelled within 2 h, predicted legit (missed fraud included) after 5 days.
        var delay = LabelDelay(runs, policy);
        results.Set("drift_labeldelay_gate_pass_before_maturity", delay.PassBeforeMaturity);
        results.Set("drift_labeldelay_detect_median_hours", delay.MedianDetectionHours);
        results.Set("drift_labeldelay_arrival_gate_pass_rate", (double)delay.ArrivalGatePasses / runs);
        rows.Add(["label delay 5 d, labelDelay policy: gate passes before labels mature", $"{delay.PassBeforeMaturity}/{runs} runs", "0", "hourly looks over 7 days, 2000 predictions/hour"]);
        rows.Add(["label delay: drop caught (median / p80)", $"{delay.MedianDetectionHours:0} h / {delay.P80DetectionHours:0} h", "after 120 h", $"{delay.Undetected} undetected in 7 days"]);
        rows.Add(["label delay, counted by arrival (no labelDelay): canary recall at 6 h", $"{delay.ArrivalRecallAt6h:0.000}", "(true 0.78)", $"gate passed in {delay.ArrivalGatePasses}/{runs} runs, drift caught in {delay.ArrivalDetections}"]);

        // 6. The gate with nothing judged.
        var empty = DriftGate.Evaluate("v2", []);
        var unjudged = DriftGate.Evaluate("v2", [new GateSegment("region=EU", DriftDecision.InsufficientEvidence, 0, 0, "too few")]);
        results.Set("drift_gate_no_segment_passes", empty.Pass || unjudged.Pass ? 1 : 0);
        rows.Add(["gate with no judged segment", $"{empty.Outcome} / {unjudged.Outcome}", "never Pass", "no segment / only insufficient segments"]);

        // 7. Excess KL of no drift at growing K.
        foreach (var k in (int[])[2, 10, 50])
        {
            var (excess, joint) = NoDriftKl(k, quick ? 20 : 100);
            results.Set($"drift_kl_nodrift_k{k}", excess);
            rows.Add([$"no drift, K={k}: excess conditional KL (mean)", $"{excess:0.0000} nats", "< 0.005", $"old joint smoothed KL {joint:0.000}"]);
        }

        results.Set("drift_seconds", total.Elapsed.TotalSeconds);
        results.Save();
        Stats.PrintTable($"drift decisions ({runs} seeded runs per row, {total.Elapsed.TotalSeconds:0} s)", ["scenario", "measured", "target", "setup"], rows);
    }

    private static int CountRuns(int runs, Func<int, bool> run)
    {
        var count = 0;
        Parallel.For(0, runs, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, Environment.ProcessorCount) }, seed =>
        {
            if (run(seed))
            {
                Interlocked.Increment(ref count);
            }
        });
        return count;
    }

    /// <summary>One segment's arms: canary and stable counts since the epoch start.</summary>
    private sealed class Arms
    {
        public ConfusionCounts Canary { get; } = new(2);

        public ConfusionCounts Stable { get; } = new(2);

        public SequentialState State { get; } = new();

        public void Look(Random random, double prevalence, double canaryRecall, double canaryPrevalence = double.NaN)
        {
            var canary = Binomial.Sample(random, LookSize, CanaryShare);
            Draw(random, Canary, canary, double.IsNaN(canaryPrevalence) ? prevalence : canaryPrevalence, canaryRecall);
            Draw(random, Stable, LookSize - canary, prevalence, StableRecall);
        }
    }

    private static void Draw(Random random, ConfusionCounts into, long predictions, double prevalence, double recall)
    {
        var positives = Binomial.Sample(random, predictions, prevalence);
        var truePositives = Binomial.Sample(random, positives, recall);
        var negatives = predictions - positives;
        var falsePositives = Binomial.Sample(random, negatives, FalsePositiveRate);
        into.Add(1, 1, truePositives);
        into.Add(1, 0, positives - truePositives);
        into.Add(0, 1, falsePositives);
        into.Add(0, 0, negatives - falsePositives);
    }

    private static bool NullEpochAlarms(int seed, DriftPolicy policy, int looks)
    {
        var random = new Random(1_000_000 + seed);
        var arms = Enumerable.Range(0, Segments).Select(_ => new Arms()).ToArray();
        for (var look = 0; look < looks; look++)
        {
            foreach (var a in arms)
            {
                a.Look(random, 0.04, StableRecall);
            }

            var verdicts = DriftEvaluator.EvaluateFamily([.. arms.Select(a => new DriftComparison(a.Canary, a.Stable, a.State))], policy);
            if (verdicts.Any(v => v.Decision >= DriftDecision.Drift))
            {
                return true;
            }
        }

        return false;
    }

    private static bool PrevalenceShiftAlarms(int seed, DriftPolicy policy, int looks)
    {
        var random = new Random(2_000_000 + seed);
        var holdout = new ConfusionCounts(2);
        Draw(random, holdout, 20_000, 0.04, StableRecall);
        var live = new ConfusionCounts(2);
        var state = new SequentialState();
        for (var look = 0; look < looks; look++)
        {
            Draw(random, live, LookSize, 0.03, StableRecall);
            if (DriftEvaluator.Evaluate(live, holdout, policy, state).Decision >= DriftDecision.Drift)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// Canary predictions a one-sided fixed-horizon z-test of "drop &lt;= tolerance" needs for 80% power at the true drop,
    /// at the level the sequential test uses for a single discovery among 13 segments with 2 comparisons each
    /// (alpha / 26); the stable arm has 9 times the canary's volume, as in the simulation.
    /// </summary>
    private static double FixedHorizonCanaryPredictions(double prevalence, double stableRecall, double canaryRecall, DriftPolicy policy)
    {
        var level = policy.Alpha / (Segments * 2.0);
        var z = NormalQuantile(1 - level) + NormalQuantile(0.8);
        var ratio = (1 - CanaryShare) / CanaryShare;
        var variance = (canaryRecall * (1 - canaryRecall)) + (stableRecall * (1 - stableRecall) / ratio);
        var effect = stableRecall - canaryRecall - policy.Tolerance;
        var canaryFraud = z * z * variance / (effect * effect);
        return canaryFraud / prevalence;
    }

    /// <summary>Canary predictions at the first Drift or Severe, or +inf when not within maxLooks.</summary>
    private static List<double> Detections(int runs, double prevalence, double canaryRecall, DriftPolicy policy, int maxLooks)
    {
        var delays = new double[runs];
        Parallel.For(0, runs, seed =>
        {
            var random = new Random(3_000_000 + seed + (int)(prevalence * 1e6));
            var arms = new Arms();

            // The 12 unchanged segments of the family: their e-values stay at 1 unless they alarm, which scenario 1
            // measures; they count in n of e-BH (the level is alpha k / (13 m)).
            var others = Enumerable.Range(0, Segments - 1).Select(_ => new DriftComparison(new ConfusionCounts(2), new ConfusionCounts(2), new SequentialState())).ToList();
            delays[seed] = double.PositiveInfinity;
            for (var look = 0; look < maxLooks; look++)
            {
                arms.Look(random, prevalence, canaryRecall);
                var verdicts = DriftEvaluator.EvaluateFamily([new DriftComparison(arms.Canary, arms.Stable, arms.State), .. others], policy);
                if (verdicts[0].Decision >= DriftDecision.Drift)
                {
                    delays[seed] = arms.Canary.Total;
                    break;
                }
            }
        });
        return [.. delays];
    }

    private static bool SevereWithin(int seed, double prevalence, double canaryRecall, DriftPolicy policy, int looks)
    {
        var random = new Random(4_000_000 + seed + (int)(canaryRecall * 1e6));
        var arms = new Arms();
        var others = Enumerable.Range(0, Segments - 1).Select(_ => new DriftComparison(new ConfusionCounts(2), new ConfusionCounts(2), new SequentialState())).ToList();
        for (var look = 0; look < looks; look++)
        {
            arms.Look(random, prevalence, canaryRecall);
            var verdicts = DriftEvaluator.EvaluateFamily([new DriftComparison(arms.Canary, arms.Stable, arms.State), .. others], policy);
            if (verdicts[0].Decision == DriftDecision.Severe)
            {
                return true;
            }
        }

        return false;
    }

    private sealed record LabelDelayFigures(
        int PassBeforeMaturity, double MedianDetectionHours, double P80DetectionHours, int Undetected, double ArrivalRecallAt6h,
        int ArrivalGatePasses, int ArrivalDetections);

    /// <summary>
    /// Hourly cohorts of 2000 predictions (10% canary, 5% prevalence, canary recall 0.78). Predicted fraud is labelled
    /// within 2 h, predicted legit (true negatives and missed fraud) 5 days (120 h) after the prediction. With the
    /// labelDelay policy at 5 days both arms are judged on the cohorts older than 120 h; counted by arrival, on
    /// whatever labels have come in. Hourly looks over 7 days.
    /// </summary>
    private static LabelDelayFigures LabelDelay(int runs, DriftPolicy policy)
    {
        const int hours = 168, perHour = 2000, delayHours = 120;
        var detection = new double[runs];
        var passedEarly = new bool[runs];
        var arrivalPassed = new bool[runs];
        var arrivalDetected = new bool[runs];
        var recallAt6h = new double[runs];
        Parallel.For(0, runs, seed =>
        {
            var random = new Random(5_000_000 + seed);

            // Per cohort hour and arm: TP, FN, FP, TN; and the hour (within 0..2) the predicted-fraud labels arrive.
            var canary = new long[hours, 4];
            var stable = new long[hours, 4];
            var fastLabelHour = new int[hours];
            for (var h = 0; h < hours; h++)
            {
                var c = Binomial.Sample(random, perHour, CanaryShare);
                Cohort(random, c, 0.78, canary, h);
                Cohort(random, perHour - c, StableRecall, stable, h);
                fastLabelHour[h] = random.Next(0, 3);
            }

            var matured = new SequentialState();
            var arrival = new SequentialState();
            detection[seed] = double.PositiveInfinity;
            for (var now = 1; now <= hours; now++)
            {
                // Matured cohorts only (event hour < now - 120), every label known.
                var (mc, ms) = (new ConfusionCounts(2), new ConfusionCounts(2));
                for (var h = 0; h < now - delayHours; h++)
                {
                    AddCohort(mc, canary, h, fast: true, slow: true);
                    AddCohort(ms, stable, h, fast: true, slow: true);
                }

                var judged = DriftEvaluator.Evaluate(mc, ms, policy, matured);
                var gate = DriftGate.Evaluate("v2", [ToGate(judged, policy)]);
                if (gate.Pass && now <= delayHours)
                {
                    passedEarly[seed] = true;
                }

                if (judged.Decision >= DriftDecision.Drift && double.IsPositiveInfinity(detection[seed]))
                {
                    detection[seed] = now;
                }

                // Counted by arrival: every cohort since the start with the labels that have arrived by now.
                var (ac, asb) = (new ConfusionCounts(2), new ConfusionCounts(2));
                for (var h = 0; h < now; h++)
                {
                    bool fast = h + fastLabelHour[h] < now, slow = h + delayHours < now;
                    AddCohort(ac, canary, h, fast, slow);
                    AddCohort(asb, stable, h, fast, slow);
                }

                var byArrival = DriftEvaluator.Evaluate(ac, asb, policy, arrival);
                if (now == 6)
                {
                    recallAt6h[seed] = ac.RowTotal(1) > 0 ? (double)ac[1, 1] / ac.RowTotal(1) : double.NaN;
                }

                if (now <= delayHours && DriftGate.Evaluate("v2", [ToGate(byArrival, policy)]).Pass)
                {
                    arrivalPassed[seed] = true;
                }

                if (now <= delayHours && byArrival.Decision >= DriftDecision.Drift)
                {
                    arrivalDetected[seed] = true;
                }
            }
        });

        var found = detection.Where(double.IsFinite).ToList();
        return new LabelDelayFigures(
            passedEarly.Count(x => x),
            found.Count > 0 ? Stats.Median(found) : double.NaN,
            found.Count > 0 ? Stats.Percentile(found, 80) : double.NaN,
            runs - found.Count,
            recallAt6h.Where(double.IsFinite).DefaultIfEmpty(double.NaN).Average(),
            arrivalPassed.Count(x => x),
            arrivalDetected.Count(x => x));
    }

    private static GateSegment ToGate(DriftAssessment a, DriftPolicy policy)
    {
        var judged = a.ClassDeltas.Where(d => d.Sufficient).ToList();
        return new GateSegment("all", a.Decision, judged.Count, judged.Count(d => d.UpperBound < policy.Tolerance), a.Reason);
    }

    private static void Cohort(Random random, long predictions, double recall, long[,] into, int hour)
    {
        var positives = Binomial.Sample(random, predictions, 0.05);
        var tp = Binomial.Sample(random, positives, recall);
        var negatives = predictions - positives;
        var fp = Binomial.Sample(random, negatives, FalsePositiveRate);
        into[hour, 0] = tp;
        into[hour, 1] = positives - tp;
        into[hour, 2] = fp;
        into[hour, 3] = negatives - fp;
    }

    /// <param name="fast">Predicted-fraud labels (TP, FP) have arrived.</param>
    /// <param name="slow">Predicted-legit labels (FN, TN) have arrived.</param>
    private static void AddCohort(ConfusionCounts counts, long[,] cohort, int hour, bool fast, bool slow)
    {
        if (fast)
        {
            counts.Add(1, 1, cohort[hour, 0]);
            counts.Add(0, 1, cohort[hour, 2]);
        }

        if (slow)
        {
            counts.Add(1, 0, cohort[hour, 1]);
            counts.Add(0, 0, cohort[hour, 3]);
        }
    }

    /// <summary>Mean excess conditional KL and mean old joint smoothed KL of two samples from one K-class model.</summary>
    private static (double Excess, double Joint) NoDriftKl(int k, int repetitions)
    {
        var random = new Random(6_000_000 + k);
        double excess = 0, joint = 0;
        const int n = 50_000;
        for (var r = 0; r < repetitions; r++)
        {
            // Accuracy 0.9, errors spread evenly; class sizes skewed (class i has weight 1/(i+1)).
            double[] weights = [.. Enumerable.Range(0, k).Select(i => 1.0 / (i + 1))];
            var sum = weights.Sum();
            var a = new ConfusionCounts(k);
            var b = new ConfusionCounts(k);
            foreach (var m in (ConfusionCounts[])[a, b])
            {
                for (var i = 0; i < n; i++)
                {
                    var u = random.NextDouble() * sum;
                    var actual = 0;
                    while (actual < k - 1 && (u -= weights[actual]) > 0)
                    {
                        actual++;
                    }

                    var predicted = random.NextDouble() < 0.9 ? actual : random.Next(k);
                    m.Add(actual, predicted);
                }
            }

            excess += ConditionalDivergence.Compare(a, b).Kl;
            joint += Divergence.KullbackLeibler(a, b);
        }

        return (excess / repetitions, joint / repetitions);
    }

    /// <summary>Acklam's rational approximation of the standard normal quantile (relative error below 1.2e-9).</summary>
    private static double NormalQuantile(double p)
    {
        double[] a = [-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02, 1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00];
        double[] b = [-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02, 6.680131188771972e+01, -1.328068155288572e+01];
        double[] c = [-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00, -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00];
        double[] d = [7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00];
        if (p < 0.02425)
        {
            var q = Math.Sqrt(-2 * Math.Log(p));
            return Horner(c, q) / ((Horner(d, q) * q) + 1);
        }

        if (p > 1 - 0.02425)
        {
            return -NormalQuantile(1 - p);
        }

        double r = p - 0.5, s = r * r;
        return Horner(a, s) * r / ((Horner(b, s) * s) + 1);
    }

    private static double Horner(double[] coefficients, double x)
    {
        double value = 0;
        foreach (var coefficient in coefficients)
        {
            value = (value * x) + coefficient;
        }

        return value;
    }

    /// <summary>Exact Binomial(n, p) by inverse CDF on chunks of at most 500 trials with p &lt;= 0.5.</summary>
    private static class Binomial
    {
        public static long Sample(Random random, long trials, double probability)
        {
            if (probability <= 0 || trials <= 0)
            {
                return 0;
            }

            if (probability >= 1)
            {
                return trials;
            }

            if (probability > 0.5)
            {
                return trials - Sample(random, trials, 1 - probability);
            }

            long total = 0;
            for (var remaining = trials; remaining > 0; remaining -= 500)
            {
                var n = (int)Math.Min(remaining, 500);
                var u = random.NextDouble();
                var pmf = Math.Pow(1 - probability, n);
                var cdf = pmf;
                var ratio = probability / (1 - probability);
                var k = 0;
                while (u > cdf && k < n)
                {
                    pmf *= (n - k) * ratio / (k + 1);
                    k++;
                    cdf += pmf;
                }

                total += k;
            }

            return total;
        }
    }
}
