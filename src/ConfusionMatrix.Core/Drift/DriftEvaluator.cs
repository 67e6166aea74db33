using System.Globalization;
using System.Text;

namespace ConfusionMatrix.Core.Drift;

/// <summary>
/// Decides whether the live confusion matrix of a model version/segment has drifted from its reference, on counts that
/// accumulate since an epoch start and are re-evaluated every few seconds.
/// </summary>
/// <remarks>
/// <para>Per class c, recall (counts[c,c] / row c) and precision (counts[c,c] / column c) of live and reference are
/// compared with the normal-mixture mSPRT; thetaHat = reference - live. The running minimum of the p-value for a DROP
/// is kept in the <see cref="SequentialState"/> under "recall:c" / "precision:c"; looks where live is not worse
/// (thetaHat &lt;= 0) leave it unchanged, so a past improvement can never lend significance to a later drop (a running
/// minimum over a subset of looks is still always valid). Each of the 2K tests uses Alpha / (2K) (Bonferroni).</para>
/// <para>The omnibus G-test of homogeneity on the K x K cells is a fixed-horizon p-value; look i spends
/// Alpha * 6 / (pi^2 i^2) of the budget (the series sums to Alpha). It alarms only together with KL &gt;= KlThreshold.</para>
/// <para>A comparison whose 2x2 table has an expected cell below MinExpectedCellCount is "insufficient": it neither
/// updates the state nor alarms.</para>
/// </remarks>
public static class DriftEvaluator
{
    /// <summary>Evaluates one look and calls <see cref="SequentialState.NextLook"/> once.</summary>
    /// <param name="live">Counts since the epoch start.</param>
    /// <param name="reference">Baseline/holdout counts, or the stable version's counts over the same epoch.</param>
    /// <param name="classNames">Only for the reason text; missing names are written "class i".</param>
    public static DriftAssessment Evaluate(
        ConfusionCounts live,
        ConfusionCounts reference,
        DriftPolicy policy,
        SequentialState state,
        IReadOnlyList<string>? classNames = null)
    {
        ArgumentNullException.ThrowIfNull(live);
        ArgumentNullException.ThrowIfNull(reference);
        ArgumentNullException.ThrowIfNull(policy);
        ArgumentNullException.ThrowIfNull(state);
        if (live.ClassCount != reference.ClassCount)
        {
            throw new ArgumentException(
                $"Class count mismatch: live has {live.ClassCount}, reference has {reference.ClassCount}.", nameof(reference));
        }

        policy.ThrowIfInvalid(nameof(policy));
        state.NextLook();
        long look = state.Looks;
        int k = live.ClassCount;

        var liveRows = new long[k];
        var liveColumns = new long[k];
        var liveDiagonal = new long[k];
        var referenceRows = new long[k];
        var referenceColumns = new long[k];
        var referenceDiagonal = new long[k];
        live.AccumulateMarginals(liveRows, liveColumns, liveDiagonal);
        reference.AccumulateMarginals(referenceRows, referenceColumns, referenceDiagonal);

        double threshold = policy.Alpha / (2.0 * k);
        double recallTau2 = policy.MixingVariance(policy.MinRecallDrop);
        double precisionTau2 = policy.MixingVariance(policy.MinPrecisionDrop);
        var deltas = new List<ClassDelta>(2 * k);
        for (int c = 0; c < k; c++)
        {
            deltas.Add(Compare(
                state, policy, c, "recall", referenceDiagonal[c], referenceRows[c], liveDiagonal[c], liveRows[c],
                policy.MinRecallDrop, recallTau2, threshold));
            deltas.Add(Compare(
                state, policy, c, "precision", referenceDiagonal[c], referenceColumns[c], liveDiagonal[c], liveColumns[c],
                policy.MinPrecisionDrop, precisionTau2, threshold));
        }

        DivergenceResult divergence = Divergence.Compare(live, reference, policy.SmoothingAlpha);
        double spending = 6 / (Math.PI * Math.PI * (double)look * look);
        double omnibusAdjusted = Math.Min(1, divergence.PValue / spending);
        bool omnibusSignificant = divergence.DegreesOfFreedom > 0 && divergence.PValue <= policy.Alpha * spending;
        bool omnibusAlarm = omnibusSignificant && divergence.Kl >= policy.KlThreshold;

        (DriftDecision decision, string reason) = Decide(
            live, reference, policy, deltas, divergence, omnibusAdjusted, omnibusSignificant, omnibusAlarm, look, classNames);
        return new DriftAssessment(decision, reason, divergence, omnibusAdjusted, live.Total, reference.Total, deltas);
    }

    private static ClassDelta Compare(
        SequentialState state,
        DriftPolicy policy,
        int classIndex,
        string metric,
        long referenceSuccesses,
        long referenceTrials,
        long liveSuccesses,
        long liveTrials,
        double minDrop,
        double tau2,
        double threshold)
    {
        string key = metric + ":" + classIndex.ToString(CultureInfo.InvariantCulture);
        double referenceRate = ProportionMath.Rate(referenceSuccesses, referenceTrials);
        double liveRate = ProportionMath.Rate(liveSuccesses, liveTrials);
        double drop = referenceTrials > 0 && liveTrials > 0 ? referenceRate - liveRate : 0;
        bool sufficient = ProportionMath.HasExpectedCells(
            referenceSuccesses, referenceTrials, liveSuccesses, liveTrials, policy.MinExpectedCellCount);
        double pValue = state.MinPValue(key);
        if (sufficient && drop > 0)
        {
            double variance = ProportionMath.DifferenceVariance(referenceSuccesses, referenceTrials, liveSuccesses, liveTrials);
            pValue = state.Update(key, MixtureSprt.PValue(drop, variance, tau2));
        }

        bool significant = sufficient && pValue <= threshold;
        bool material = drop >= minDrop;
        return new ClassDelta(
            classIndex, metric, referenceRate, liveRate, drop, pValue, threshold, referenceTrials, liveTrials,
            sufficient, significant, material);
    }

    private static (DriftDecision Decision, string Reason) Decide(
        ConfusionCounts live,
        ConfusionCounts reference,
        DriftPolicy policy,
        List<ClassDelta> deltas,
        DivergenceResult divergence,
        double omnibusAdjusted,
        bool omnibusSignificant,
        bool omnibusAlarm,
        long look,
        IReadOnlyList<string>? classNames)
    {
        if (live.Total < policy.MinSamples || reference.Total < policy.MinSamples)
        {
            return (DriftDecision.InsufficientEvidence, string.Create(
                CultureInfo.InvariantCulture,
                $"not enough predictions yet: {live.Total} live and {reference.Total} reference, need {policy.MinSamples} each"));
        }

        if (!deltas.Exists(d => d.Sufficient))
        {
            return (DriftDecision.InsufficientEvidence, string.Create(
                CultureInfo.InvariantCulture,
                $"no recall or precision comparison has every expected cell count >= {policy.MinExpectedCellCount} yet ({live.Total} live vs {reference.Total} reference predictions)"));
        }

        ClassDelta? worst = null;
        int alarms = 0;
        foreach (ClassDelta delta in deltas)
        {
            if (delta.IsAlarm)
            {
                alarms++;
                if (worst is null || delta.Drop > worst.Drop)
                {
                    worst = delta;
                }
            }
        }

        if (worst is not null)
        {
            DriftDecision decision = worst.Drop >= policy.SevereDrop ? DriftDecision.Severe : DriftDecision.Drift;
            var text = new StringBuilder(Describe(worst, classNames));
            if (alarms > 1)
            {
                text.Append(CultureInfo.InvariantCulture, $"; {alarms - 1} more significant material drop(s)");
            }

            if (omnibusAlarm)
            {
                text.Append("; the joint matrix also shifted (").Append(Omnibus(divergence, omnibusAdjusted, look)).Append(')');
            }

            return (decision, text.ToString());
        }

        if (omnibusAlarm)
        {
            return (DriftDecision.Drift, string.Create(
                CultureInfo.InvariantCulture,
                $"the joint confusion matrix shifted: {Omnibus(divergence, omnibusAdjusted, look)}, KL >= {ProportionMath.P(policy.KlThreshold)} and spending-adjusted p <= {ProportionMath.P(policy.Alpha)}"));
        }

        ClassDelta? largest = null;
        foreach (ClassDelta delta in deltas)
        {
            if (delta.Sufficient && (largest is null || delta.Drop > largest.Drop))
            {
                largest = delta;
            }
        }

        string omnibusNote = omnibusSignificant
            ? $"joint matrix differs significantly but KL={divergence.Kl.ToString("0.0000", CultureInfo.InvariantCulture)} < {ProportionMath.P(policy.KlThreshold)}"
            : $"KL={divergence.Kl.ToString("0.0000", CultureInfo.InvariantCulture)}, omnibus adjusted p={ProportionMath.P(omnibusAdjusted)}";
        string largestNote = largest is null || largest.Drop <= 0
            ? "no recall or precision is lower than the reference"
            : "largest drop: " + Describe(largest, classNames);
        return (DriftDecision.NoDrift, $"no drop is both significant and material; {largestNote}; {omnibusNote}");
    }

    private static string Describe(ClassDelta delta, IReadOnlyList<string>? classNames)
    {
        string name = ClassLabel(delta.ClassIndex, classNames);
        string verb = delta.Drop > 0 ? "fell" : "rose";
        string comparison = delta.AlwaysValidPValue <= delta.Threshold ? "<=" : ">";
        string population = delta.Metric == "recall" ? "actual" : "predicted";
        return string.Create(
            CultureInfo.InvariantCulture,
            $"{delta.Metric} of {name} {verb} from {ProportionMath.Rate3(delta.Reference)} to {ProportionMath.Rate3(delta.Live)} ({ProportionMath.Signed3(delta.Live - delta.Reference)}, always-valid p={ProportionMath.P(delta.AlwaysValidPValue)} {comparison} {ProportionMath.P(delta.Threshold)}) over {delta.LiveDenominator} vs {delta.ReferenceDenominator} {population} {name}");
    }

    private static string Omnibus(DivergenceResult divergence, double adjusted, long look) =>
        string.Create(
            CultureInfo.InvariantCulture,
            $"KL={divergence.Kl.ToString("0.0000", CultureInfo.InvariantCulture)} nats, G={divergence.G.ToString("0.0", CultureInfo.InvariantCulture)} on {divergence.DegreesOfFreedom} df, p={ProportionMath.P(divergence.PValue)}, adjusted p={ProportionMath.P(adjusted)} at look {look}");

    private static string ClassLabel(int classIndex, IReadOnlyList<string>? classNames) =>
        classNames is not null && classIndex < classNames.Count && !string.IsNullOrEmpty(classNames[classIndex])
            ? "'" + classNames[classIndex] + "'"
            : "class " + classIndex.ToString(CultureInfo.InvariantCulture);
}
