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
        SequentialState state)
    {
        ArgumentException.ThrowIfNullOrEmpty(dimension);
        ArgumentNullException.ThrowIfNull(segments);
        ArgumentNullException.ThrowIfNull(policy);
        ArgumentNullException.ThrowIfNull(state);
        policy.ThrowIfInvalid(nameof(policy));
        Validate(segments, positiveClass);
        state.NextLook();

        int s = segments.Count;
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
        for (int i = 0; i < s; i++)
        {
            ConfusionCounts counts = segments[i].Counts;
            long truePositives = counts[positiveClass, positiveClass];
            positives[i] = counts.RowTotal(positiveClass);
            falseNegatives[i] = positives[i] - truePositives;
            negatives[i] = counts.Total - positives[i];
            falsePositives[i] = counts.ColumnTotal(positiveClass) - truePositives;
            allPositives += positives[i];
            allFalseNegatives += falseNegatives[i];
            allNegatives += negatives[i];
            allFalsePositives += falsePositives[i];
        }

        double threshold = policy.Alpha / (2.0 * s);
        double tau2 = policy.MixingVariance(policy.MaxFairnessGap);
        var gaps = new List<SegmentRateGap>(2 * s);
        for (int i = 0; i < s; i++)
        {
            string segment = segments[i].Segment;
            gaps.Add(Compare(
                state, policy, segment, "fnr", falseNegatives[i], positives[i],
                allFalseNegatives - falseNegatives[i], allPositives - positives[i], tau2, threshold));
            gaps.Add(Compare(
                state, policy, segment, "fpr", falsePositives[i], negatives[i],
                allFalsePositives - falsePositives[i], allNegatives - negatives[i], tau2, threshold));
        }

        SegmentRateGap? worst = null;
        int alarms = 0;
        foreach (SegmentRateGap gap in gaps)
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
            string more = alarms > 1 ? $"; {alarms - 1} more significant gap(s) of at least {ProportionMath.Rate3(policy.MaxFairnessGap)}" : string.Empty;
            string highest = string.Empty;
            if (worst.Gap < 0)
            {
                // Only "better than the rest" alarms: the rest contains the harmed segment, so name it too.
                SegmentRateGap top = gaps.Where(g => g.Metric == worst.Metric).MaxBy(g => g.SegmentRate)!;
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
        foreach (SegmentRateGap gap in gaps)
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
    /// Orders alarms for the reason text: a segment with a HIGHER error rate than the rest (the harmed segment) comes
    /// before one with a lower rate (which can look better than a rest that contains the harmed segment); then larger |gap|.
    /// </summary>
    private static bool IsWorse(SegmentRateGap candidate, SegmentRateGap current)
    {
        bool candidateHarmed = candidate.Gap > 0;
        bool currentHarmed = current.Gap > 0;
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
        string key = metric + ":" + segment;
        double segmentRate = ProportionMath.Rate(segmentErrors, segmentTrials);
        double restRate = ProportionMath.Rate(restErrors, restTrials);
        double gap = segmentTrials > 0 && restTrials > 0 ? segmentRate - restRate : 0;
        bool sufficient = ProportionMath.HasExpectedCells(
            segmentErrors, segmentTrials, restErrors, restTrials, policy.MinExpectedCellCount);
        double pValue = state.MinPValue(key);
        if (sufficient)
        {
            double variance = ProportionMath.DifferenceVariance(segmentErrors, segmentTrials, restErrors, restTrials);
            pValue = state.Update(key, MixtureSprt.PValue(gap, variance, tau2));
        }

        bool significant = sufficient && pValue <= threshold;
        bool material = Math.Abs(gap) >= policy.MaxFairnessGap;
        return new SegmentRateGap(
            segment, metric, segmentRate, restRate, gap, pValue, threshold, segmentTrials, restTrials,
            sufficient, significant, material);
    }

    private static string Describe(string dimension, SegmentRateGap gap)
    {
        string comparison = gap.AlwaysValidPValue <= gap.Threshold ? "<=" : ">";
        string population = gap.Metric == "fnr" ? "actual positives" : "actual negatives";
        return string.Create(
            CultureInfo.InvariantCulture,
            $"{gap.Metric.ToUpperInvariant()} of {dimension}={gap.Segment} is {ProportionMath.Rate3(gap.SegmentRate)} vs {ProportionMath.Rate3(gap.RestRate)} for the rest ({ProportionMath.Signed3(gap.Gap)}, always-valid p={ProportionMath.P(gap.AlwaysValidPValue)} {comparison} {ProportionMath.P(gap.Threshold)}) over {gap.SegmentDenominator} vs {gap.RestDenominator} {population}");
    }

    private static void Validate(IReadOnlyList<(string Segment, ConfusionCounts Counts)> segments, int positiveClass)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        int classCount = -1;
        foreach ((string segment, ConfusionCounts counts) in segments)
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
