using System.Globalization;

namespace ConfusionMatrix.Core.Drift;

/// <summary>
/// Fairness check across the segments of one dimension (e.g. region=EU, region=US) of one model version: each segment's
/// false-negative rate (FN / actual positives) and false-positive rate (FP / actual negatives, negatives = every other
/// class) is compared with the pooled rest of the dimension.
/// </summary>
/// <remarks>
/// Gaps in both directions alarm (the reason names a segment with a higher error rate than the rest first). Each of the 2S comparisons uses the normal-mixture mSPRT (thetaHat = segment rate -
/// rest rate, tau defaults to <see cref="DriftPolicy.MaxFairnessGap"/>) with the running minimum kept in the
/// <see cref="SequentialState"/> under "fnr:{segment}" / "fpr:{segment}", and threshold Alpha / (2S) (Bonferroni),
/// so Alpha is the false-alert probability per (version, dimension, epoch). An alert additionally needs
/// |gap| >= MaxFairnessGap and the expected-cell rule. Calls <see cref="SequentialState.NextLook"/> once.
/// </remarks>
public static class FairnessEvaluator
{
    public static FairnessAssessment Evaluate(
        string dimension,
        IReadOnlyList<(string Segment, ConfusionCounts Counts)> segments,
        int positiveClass,
        DriftPolicy policy,
        SequentialState state,
        IReadOnlyList<(string Segment, ConfusionCounts Counts)>? stable = null)
    {
        if (stable is not null)
        {
            return EvaluateRegression(dimension, segments, stable, positiveClass, policy, state);
        }

        ArgumentException.ThrowIfNullOrEmpty(dimension);
        ArgumentNullException.ThrowIfNull(segments);
        ArgumentNullException.ThrowIfNull(policy);
        ArgumentNullException.ThrowIfNull(state);
        policy.ThrowIfInvalid(nameof(policy));
        Validate(segments, positiveClass);
        state.NextLook();

        var s = segments.Count;
        if (s < 2)
        {
            return new FairnessAssessment(
                dimension, false, $"dimension '{dimension}' needs at least two segments to compare (has {s})", []);
        }

        var positives = new long[s];
        var falseNegatives = new long[s];
        var negatives = new long[s];
        var falsePositives = new long[s];
        long allPositives = 0, allFalseNegatives = 0, allNegatives = 0, allFalsePositives = 0;
        for (var i = 0; i < s; i++)
        {
            var counts = segments[i].Counts;
            var truePositives = counts[positiveClass, positiveClass];
            positives[i] = counts.RowTotal(positiveClass);
            falseNegatives[i] = positives[i] - truePositives;
            negatives[i] = counts.Total - positives[i];
            falsePositives[i] = counts.ColumnTotal(positiveClass) - truePositives;
            allPositives += positives[i];
            allFalseNegatives += falseNegatives[i];
            allNegatives += negatives[i];
            allFalsePositives += falsePositives[i];
        }

        var threshold = policy.Alpha / (2.0 * s);
        var tau2 = policy.MaxFairnessGap * policy.MaxFairnessGap;
        var gaps = new List<SegmentRateGap>(2 * s);
        for (var i = 0; i < s; i++)
        {
            var segment = segments[i].Segment;
            gaps.Add(Compare(
                state, policy, segment, "fnr", falseNegatives[i], positives[i],
                allFalseNegatives - falseNegatives[i], allPositives - positives[i], tau2, threshold));
            gaps.Add(Compare(
                state, policy, segment, "fpr", falsePositives[i], negatives[i],
                allFalsePositives - falsePositives[i], allNegatives - negatives[i], tau2, threshold));
        }

        SegmentRateGap? worst = null;
        var alarms = 0;
        foreach (var gap in gaps)
        {
            if (gap.IsAlarm)
            {
                alarms++;
                if (worst is null || IsWorse(gap, worst))
                {
                    worst = gap;
                }
            }
        }

        if (worst is not null)
        {
            var more = alarms > 1 ? $"; {alarms - 1} more significant gap(s) of at least {ProportionMath.Rate3(policy.MaxFairnessGap)}" : string.Empty;
            var highest = string.Empty;
            if (worst.Gap < 0)
            {
                // Only "better than the rest" alarms: the rest contains the harmed segment, so name it too.
                var top = gaps.Where(g => g.Metric == worst.Metric).MaxBy(g => g.SegmentRate)!;
                highest = $"; the highest {worst.Metric.ToUpperInvariant()} is {dimension}={top.Segment} at {ProportionMath.Rate3(top.SegmentRate)}";
            }

            return new FairnessAssessment(dimension, true, Describe(dimension, worst) + highest + more, gaps);
        }

        if (!gaps.Exists(g => g.Sufficient))
        {
            return new FairnessAssessment(
                dimension,
                false,
                $"no segment of '{dimension}' has every expected cell count >= {policy.MinExpectedCellCount.ToString(CultureInfo.InvariantCulture)} yet",
                gaps);
        }

        SegmentRateGap? largest = null;
        foreach (var gap in gaps)
        {
            if (gap.Sufficient && (largest is null || Math.Abs(gap.Gap) > Math.Abs(largest.Gap)))
            {
                largest = gap;
            }
        }

        return new FairnessAssessment(
            dimension, false, "no gap is both significant and material; largest: " + Describe(dimension, largest!), gaps);
    }

    /// <summary>
    /// Regression check of a canary against its stable version over the same epoch: for each segment and error rate
    /// (FNR, FPR) the widening w = (canary segment - canary rest) - (stable segment - stable rest) gets a one-sided
    /// confidence sequence (<see cref="OneSidedMixture"/>, tau = MaxFairnessGap); an alert needs its lower bound above
    /// MaxFairnessGap at level Alpha / (2S). A gap the stable version already has is not the canary's fault.
    /// </summary>
    private static FairnessAssessment EvaluateRegression(
        string dimension,
        IReadOnlyList<(string Segment, ConfusionCounts Counts)> canary,
        IReadOnlyList<(string Segment, ConfusionCounts Counts)> stable,
        int positiveClass,
        DriftPolicy policy,
        SequentialState state)
    {
        ArgumentException.ThrowIfNullOrEmpty(dimension);
        ArgumentNullException.ThrowIfNull(canary);
        ArgumentNullException.ThrowIfNull(policy);
        ArgumentNullException.ThrowIfNull(state);
        policy.ThrowIfInvalid(nameof(policy));
        Validate(canary, positiveClass);
        Validate(stable, positiveClass);
        state.NextLook();
        var stableBySegment = stable.ToDictionary(x => x.Segment, x => x.Counts, StringComparer.Ordinal);
        var members = canary.Where(x => stableBySegment.ContainsKey(x.Segment)).ToList();
        var s = members.Count;
        if (s < 2)
        {
            return new FairnessAssessment(
                dimension, false, $"dimension '{dimension}' needs at least two segments seen by both versions (has {s})", []);
        }

        var canaryRates = RatesOf(members.Select(x => x.Counts).ToList(), positiveClass);
        var stableRates = RatesOf(members.Select(x => stableBySegment[x.Segment]).ToList(), positiveClass);
        var level = policy.Alpha / (2.0 * s);
        var tau = policy.MaxFairnessGap;
        var gaps = new List<SegmentRateGap>(2 * s);
        for (var i = 0; i < s; i++)
        {
            foreach (var metric in (string[])["fnr", "fpr"])
            {
                var fnr = metric == "fnr";
                var (ce, ct, cre, crt) = canaryRates[i].Of(fnr);
                var (se, st, sre, srt) = stableRates[i].Of(fnr);
                var canaryGap = ProportionMath.Rate(ce, ct) - ProportionMath.Rate(cre, crt);
                var stableGap = ProportionMath.Rate(se, st) - ProportionMath.Rate(sre, srt);
                var widening = canaryGap - stableGap;
                var sufficient =
                    ProportionMath.HasExpectedCells(ce, ct, cre, crt, policy.MinExpectedCellCount)
                    && ProportionMath.HasExpectedCells(se, st, sre, srt, policy.MinExpectedCellCount);
                var key = "widen:" + metric + ":" + members[i].Segment;
                var logE = state.Get("e:" + key, 0);
                var lower = state.Get("lo:" + key, double.NegativeInfinity);
                if (sufficient)
                {
                    var variance = ProportionMath.DifferenceVariance(ce, ct, cre, crt) + ProportionMath.DifferenceVariance(se, st, sre, srt);
                    logE = state.RunningMax("e:" + key, OneSidedMixture.LogLikelihoodRatio(widening - policy.MaxFairnessGap, variance, tau), 0);
                    lower = state.RunningMax("lo:" + key, widening - OneSidedMixture.Margin(variance, tau, level));
                }

                var significant = logE >= -Math.Log(level);
                gaps.Add(new SegmentRateGap(
                    members[i].Segment, metric, ProportionMath.Rate(ce, ct), ProportionMath.Rate(cre, crt), canaryGap,
                    Math.Min(1, Math.Exp(-logE)), level, ct, crt, sufficient, significant, significant, stableGap, lower));
            }
        }

        var worst = gaps.Where(g => g.IsAlarm).MaxBy(g => g.LowerBound);
        if (worst is not null)
        {
            return new FairnessAssessment(dimension, true, DescribeWidening(dimension, worst, policy), gaps);
        }

        if (!gaps.Exists(g => g.Sufficient))
        {
            return new FairnessAssessment(
                dimension, false,
                $"no segment of '{dimension}' has every expected cell count >= {policy.MinExpectedCellCount.ToString(CultureInfo.InvariantCulture)} in both versions yet",
                gaps);
        }

        var largest = gaps.Where(g => g.Sufficient).MaxBy(g => g.Gap - (g.ReferenceGap ?? 0))!;
        return new FairnessAssessment(
            dimension, false, "no gap widened beyond the tolerance compared with the stable version; largest: " + DescribeWidening(dimension, largest, policy), gaps);
    }

    private static string DescribeWidening(string dimension, SegmentRateGap gap, DriftPolicy policy) =>
        string.Create(
            CultureInfo.InvariantCulture,
            $"{gap.Metric.ToUpperInvariant()} gap of {dimension}={gap.Segment} vs the rest is {ProportionMath.Signed3(gap.Gap)} in the canary and {ProportionMath.Signed3(gap.ReferenceGap ?? 0)} in the stable version (widened by {ProportionMath.Signed3(gap.Gap - (gap.ReferenceGap ?? 0))}, lower bound {(double.IsNegativeInfinity(gap.LowerBound) ? "-inf" : ProportionMath.Signed3(gap.LowerBound))}, tolerance {ProportionMath.Rate3(policy.MaxFairnessGap)})");

    private readonly record struct Rates(long FalseNegatives, long Positives, long RestFalseNegatives, long RestPositives, long FalsePositives, long Negatives, long RestFalsePositives, long RestNegatives)
    {
        public (long Errors, long Trials, long RestErrors, long RestTrials) Of(bool fnr) =>
            fnr ? (FalseNegatives, Positives, RestFalseNegatives, RestPositives) : (FalsePositives, Negatives, RestFalsePositives, RestNegatives);
    }

    private static Rates[] RatesOf(IReadOnlyList<ConfusionCounts> segments, int positiveClass)
    {
        var s = segments.Count;
        var fn = new long[s];
        var pos = new long[s];
        var fp = new long[s];
        var neg = new long[s];
        for (var i = 0; i < s; i++)
        {
            var tp = segments[i][positiveClass, positiveClass];
            pos[i] = segments[i].RowTotal(positiveClass);
            fn[i] = pos[i] - tp;
            neg[i] = segments[i].Total - pos[i];
            fp[i] = segments[i].ColumnTotal(positiveClass) - tp;
        }

        long allFn = fn.Sum(), allPos = pos.Sum(), allFp = fp.Sum(), allNeg = neg.Sum();
        var result = new Rates[s];
        for (var i = 0; i < s; i++)
        {
            result[i] = new Rates(fn[i], pos[i], allFn - fn[i], allPos - pos[i], fp[i], neg[i], allFp - fp[i], allNeg - neg[i]);
        }

        return result;
    }

    /// <summary>
    /// Orders alarms for the reason text: a segment with a HIGHER error rate than the rest (the harmed segment) comes
    /// before one with a lower rate (which can look better than a rest that contains the harmed segment); then larger |gap|.
    /// </summary>
    private static bool IsWorse(SegmentRateGap candidate, SegmentRateGap current)
    {
        var candidateHarmed = candidate.Gap > 0;
        var currentHarmed = current.Gap > 0;
        if (candidateHarmed != currentHarmed)
        {
            return candidateHarmed;
        }

        return Math.Abs(candidate.Gap) > Math.Abs(current.Gap);
    }

    private static SegmentRateGap Compare(
        SequentialState state,
        DriftPolicy policy,
        string segment,
        string metric,
        long segmentErrors,
        long segmentTrials,
        long restErrors,
        long restTrials,
        double tau2,
        double threshold)
    {
        var key = metric + ":" + segment;
        var segmentRate = ProportionMath.Rate(segmentErrors, segmentTrials);
        var restRate = ProportionMath.Rate(restErrors, restTrials);
        var gap = segmentTrials > 0 && restTrials > 0 ? segmentRate - restRate : 0;
        var sufficient = ProportionMath.HasExpectedCells(
            segmentErrors, segmentTrials, restErrors, restTrials, policy.MinExpectedCellCount);
        var pValue = state.MinPValue(key);
        if (sufficient)
        {
            var variance = ProportionMath.DifferenceVariance(segmentErrors, segmentTrials, restErrors, restTrials);
            pValue = state.Update(key, MixtureSprt.PValue(gap, variance, tau2));
        }

        var significant = sufficient && pValue <= threshold;
        var material = Math.Abs(gap) >= policy.MaxFairnessGap;
        return new SegmentRateGap(
            segment, metric, segmentRate, restRate, gap, pValue, threshold, segmentTrials, restTrials,
            sufficient, significant, material);
    }

    private static string Describe(string dimension, SegmentRateGap gap)
    {
        var comparison = gap.AlwaysValidPValue <= gap.Threshold ? "<=" : ">";
        var population = gap.Metric == "fnr" ? "actual positives" : "actual negatives";
        return string.Create(
            CultureInfo.InvariantCulture,
            $"{gap.Metric.ToUpperInvariant()} of {dimension}={gap.Segment} is {ProportionMath.Rate3(gap.SegmentRate)} vs {ProportionMath.Rate3(gap.RestRate)} for the rest ({ProportionMath.Signed3(gap.Gap)}, always-valid p={ProportionMath.P(gap.AlwaysValidPValue)} {comparison} {ProportionMath.P(gap.Threshold)}) over {gap.SegmentDenominator} vs {gap.RestDenominator} {population}");
    }

    private static void Validate(IReadOnlyList<(string Segment, ConfusionCounts Counts)> segments, int positiveClass)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        var classCount = -1;
        foreach ((var segment, var counts) in segments)
        {
            if (string.IsNullOrEmpty(segment))
            {
                throw new ArgumentException("Segment names must be non-empty.", nameof(segments));
            }

            if (counts is null)
            {
                throw new ArgumentException($"Segment '{segment}' has no counts.", nameof(segments));
            }

            if (!names.Add(segment))
            {
                throw new ArgumentException($"Segment '{segment}' appears more than once.", nameof(segments));
            }

            if (classCount >= 0 && counts.ClassCount != classCount)
            {
                throw new ArgumentException(
                    $"Segment '{segment}' has {counts.ClassCount} classes, expected {classCount}.", nameof(segments));
            }

            classCount = counts.ClassCount;
        }

        if (classCount >= 0 && (positiveClass < 0 || positiveClass >= classCount))
        {
            throw new ArgumentOutOfRangeException(nameof(positiveClass), positiveClass, $"Must be in [0, {classCount}).");
        }

        if (classCount == 1)
        {
            throw new ArgumentException("Fairness needs at least two classes (positive and negative).", nameof(segments));
        }
    }
}
