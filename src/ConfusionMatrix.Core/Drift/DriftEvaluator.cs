using System.Globalization;
using System.Text;

namespace ConfusionMatrix.Core.Drift;

/// <summary>One (version, segment) to judge: its live counts, its reference and the memory of its sequential tests.</summary>
public sealed record DriftComparison(
    ConfusionCounts Live,
    ConfusionCounts Reference,
    SequentialState State,
    IReadOnlyList<string>? ClassNames = null);

/// <summary>
/// Decides whether the live confusion matrices of a model's (version, segment)s have drifted from their references.
/// </summary>
/// <remarks>
/// <para>Per class c the rates conditional on the actual class are compared: recall (actual c predicted c) and, with
/// more than two classes, the false-positive rate (actual not c predicted c; with two classes it is one minus the other
/// class's recall). Each comparison keeps a one-sided confidence sequence for its drop (<see cref="OneSidedMixture"/>)
/// and the running maximum of its e-value against "drop &lt;= tolerance" in the <see cref="SequentialState"/>.</para>
/// <para>Across the family (all segments and versions of a model, n of them) e-BH at <see cref="DriftPolicy.Alpha"/> finds
/// k discoveries; a segment with m comparisons then judges each at level alpha k / (n m). Drift: some comparison's
/// e-value reaches 1 / level, i.e. its lower bound of the drop at that level is above the tolerance. Severe: the same
/// for the severe threshold. Precision is not tested: against a holdout it moves with prevalence, not with the model.</para>
/// <para>The omnibus test compares the matrix rows given the actual class (<see cref="ConditionalDivergence"/>) and
/// spends alpha / n by information; it can only raise Drift, and only with excess KL &gt;= KlThreshold.</para>
/// </remarks>
public static class DriftEvaluator
{
    /// <summary>Judges one comparison on its own (a family of one); calls <see cref="SequentialState.NextLook"/> once.</summary>
    public static DriftAssessment Evaluate(
        ConfusionCounts live,
        ConfusionCounts reference,
        DriftPolicy policy,
        SequentialState state,
        IReadOnlyList<string>? classNames = null) =>
        EvaluateFamily([new DriftComparison(live, reference, state, classNames)], policy)[0];

    /// <summary>Judges every comparison of one model together (e-BH across them); one look each.</summary>
    public static IReadOnlyList<DriftAssessment> EvaluateFamily(IReadOnlyList<DriftComparison> comparisons, DriftPolicy policy)
    {
        ArgumentNullException.ThrowIfNull(comparisons);
        ArgumentNullException.ThrowIfNull(policy);
        policy.ThrowIfInvalid(nameof(policy));
        var n = comparisons.Count;
        var evidence = new Evidence[n];
        for (var j = 0; j < n; j++)
        {
            evidence[j] = Gather(comparisons[j], policy, n);
        }

        var discoveries = EValues.BenjaminiHochbergCount([.. evidence.Select(e => e.EValue)], policy.Alpha);
        var result = new DriftAssessment[n];
        for (var j = 0; j < n; j++)
        {
            result[j] = Decide(evidence[j], policy, n, discoveries);
        }

        return result;
    }

    private sealed record Test(
        int ClassIndex, string Metric, double Reference, double Live, double Drop, double Variance, long ReferenceTrials,
        long LiveTrials, bool Sufficient, double LogE, double LogSevere, double StoredLower, double Upper);

    private sealed record Evidence(
        DriftComparison Comparison, List<Test> Tests, DivergenceResult Divergence, double OmnibusAdjusted,
        bool OmnibusSignificant, bool Enough)
    {
        public double EValue => Tests.Count == 0 ? 1 : Math.Exp(Math.Min(700, Tests.Max(t => t.LogE))) / Tests.Count;
    }

    private static Evidence Gather(DriftComparison comparison, DriftPolicy policy, int familySize)
    {
        ConfusionCounts live = comparison.Live, reference = comparison.Reference;
        ArgumentNullException.ThrowIfNull(live);
        ArgumentNullException.ThrowIfNull(reference);
        ArgumentNullException.ThrowIfNull(comparison.State);
        if (live.ClassCount != reference.ClassCount)
        {
            throw new ArgumentException(
                $"Class count mismatch: live has {live.ClassCount}, reference has {reference.ClassCount}.", nameof(comparison));
        }

        var state = comparison.State;
        state.NextLook();
        var k = live.ClassCount;
        var liveRows = new long[k];
        var liveColumns = new long[k];
        var liveDiagonal = new long[k];
        var referenceRows = new long[k];
        var referenceColumns = new long[k];
        var referenceDiagonal = new long[k];
        live.AccumulateMarginals(liveRows, liveColumns, liveDiagonal);
        reference.AccumulateMarginals(referenceRows, referenceColumns, referenceDiagonal);
        var enough = live.Total >= policy.MinSamples && reference.Total >= policy.MinSamples;

        var withFpr = k > 2;
        var m = withFpr ? 2 * k : k;
        var baseLevel = policy.Alpha / ((double)familySize * m);
        var tests = new List<Test>(m);
        for (var c = 0; c < k; c++)
        {
            tests.Add(Compare(
                state, policy, enough, baseLevel, c, "recall", referenceDiagonal[c], referenceRows[c], liveDiagonal[c], liveRows[c],
                higherIsWorse: false));
            if (withFpr)
            {
                var referenceNegatives = reference.Total - referenceRows[c];
                var liveNegatives = live.Total - liveRows[c];
                tests.Add(Compare(
                    state, policy, enough, baseLevel, c, "fpr", referenceColumns[c] - referenceDiagonal[c], referenceNegatives,
                    liveColumns[c] - liveDiagonal[c], liveNegatives, higherIsWorse: true));
            }
        }

        var divergence = ConditionalDivergence.Compare(live, reference, policy.SmoothingAlpha);
        double adjusted = 1;
        var significant = false;
        if (enough && divergence.DegreesOfFreedom > 0)
        {
            // Spend alpha by information, not by look: looking more often spends nothing extra.
            var information = (double)live.Total * reference.Total / ((double)live.Total + reference.Total);
            var spentBefore = state.Get("omnibus:spent", 0);
            var spentNow = Math.Max(spentBefore, information / (information + policy.OmnibusHalfInformation));
            state.Set("omnibus:spent", spentNow);
            var share = (spentNow - spentBefore) * policy.Alpha / familySize;
            adjusted = share > 0 ? Math.Min(1, divergence.PValue * policy.Alpha / share) : 1;
            significant = share > 0 && divergence.PValue <= share;
        }

        return new Evidence(comparison, tests, divergence, adjusted, significant, enough);
    }

    private static Test Compare(
        SequentialState state,
        DriftPolicy policy,
        bool enough,
        double baseLevel,
        int classIndex,
        string metric,
        long referenceSuccesses,
        long referenceTrials,
        long liveSuccesses,
        long liveTrials,
        bool higherIsWorse)
    {
        var key = metric + ":" + classIndex.ToString(CultureInfo.InvariantCulture);
        var referenceRate = ProportionMath.Rate(referenceSuccesses, referenceTrials);
        var liveRate = ProportionMath.Rate(liveSuccesses, liveTrials);
        var drop = referenceTrials > 0 && liveTrials > 0 ? (higherIsWorse ? liveRate - referenceRate : referenceRate - liveRate) : 0;
        var sufficient = enough && ProportionMath.HasExpectedCells(
            referenceSuccesses, referenceTrials, liveSuccesses, liveTrials, policy.MinExpectedCellCount);
        double variance = 0;
        var logE = state.Get("e:" + key, 0);
        var logSevere = state.Get("s:" + key, 0);
        var lower = state.Get("lo:" + key, double.NegativeInfinity);
        var upper = state.Get("hi:" + key, double.PositiveInfinity);
        if (sufficient)
        {
            var tau = policy.MixingStandardDeviation;
            variance = ProportionMath.DifferenceVariance(referenceSuccesses, referenceTrials, liveSuccesses, liveTrials);
            logE = state.RunningMax("e:" + key, OneSidedMixture.LogLikelihoodRatio(drop - policy.Tolerance, variance, tau), 0);
            logSevere = state.RunningMax("s:" + key, OneSidedMixture.LogLikelihoodRatio(drop - policy.SevereDrop, variance, tau), 0);
            lower = state.RunningMax("lo:" + key, drop - OneSidedMixture.Margin(variance, tau, baseLevel));
            upper = state.RunningMin("hi:" + key, drop + OneSidedMixture.Margin(variance, tau, policy.Alpha));
        }

        return new Test(
            classIndex, metric, referenceRate, liveRate, drop, variance, referenceTrials, liveTrials, sufficient, logE, logSevere,
            lower, upper);
    }

    private static DriftAssessment Decide(Evidence evidence, DriftPolicy policy, int familySize, int discoveries)
    {
        ConfusionCounts live = evidence.Comparison.Live, reference = evidence.Comparison.Reference;
        var names = evidence.Comparison.ClassNames;
        var m = Math.Max(1, evidence.Tests.Count);
        var level = policy.Alpha * Math.Max(1, discoveries) / ((double)familySize * m);
        var needed = -Math.Log(level);
        var deltas = new List<ClassDelta>(evidence.Tests.Count);
        foreach (var t in evidence.Tests)
        {
            var lower = t.StoredLower;
            if (t.Sufficient)
            {
                lower = Math.Max(lower, t.Drop - OneSidedMixture.Margin(t.Variance, policy.MixingStandardDeviation, level));
            }

            var significant = evidence.Enough && t.LogE >= needed;
            var severe = significant && t.LogSevere >= needed;
            deltas.Add(new ClassDelta(
                t.ClassIndex, t.Metric, t.Reference, t.Live, t.Drop, lower, t.Upper, Math.Exp(Math.Min(700, t.LogE)), level,
                t.ReferenceTrials, t.LiveTrials, t.Sufficient, significant, severe));
        }

        var omnibusAlarm = evidence.OmnibusSignificant && evidence.Divergence.Kl >= policy.KlThreshold;
        var judged = deltas.Exists(d => d.Sufficient);
        var nonInferior = evidence.Enough && judged && deltas.TrueForAll(d => !d.Sufficient || d.UpperBound < policy.Tolerance);
        (var decision, var reason) = Reason(live, reference, policy, deltas, evidence, omnibusAlarm, names);
        return new DriftAssessment(
            decision, reason, evidence.Divergence, evidence.OmnibusAdjusted, live.Total, reference.Total, deltas,
            evidence.EValue, omnibusAlarm, nonInferior && decision == DriftDecision.NoDrift);
    }

    private static (DriftDecision Decision, string Reason) Reason(
        ConfusionCounts live,
        ConfusionCounts reference,
        DriftPolicy policy,
        List<ClassDelta> deltas,
        Evidence evidence,
        bool omnibusAlarm,
        IReadOnlyList<string>? classNames)
    {
        if (!evidence.Enough)
        {
            return (DriftDecision.InsufficientEvidence, string.Create(
                CultureInfo.InvariantCulture,
                $"not enough predictions yet: {live.Total} live and {reference.Total} reference, need {policy.MinSamples} each"));
        }

        ClassDelta? worst = null;
        var alarms = 0;
        foreach (var delta in deltas)
        {
            if (delta.Significant)
            {
                alarms++;
                if (worst is null || delta.LowerBound > worst.LowerBound)
                {
                    worst = delta;
                }
            }
        }

        if (worst is not null)
        {
            var severe = deltas.Exists(d => d.Severe);
            var decision = severe ? DriftDecision.Severe : DriftDecision.Drift;
            var text = new StringBuilder(Describe(worst, classNames, policy));
            text.Append(severe
                ? string.Create(CultureInfo.InvariantCulture, $"; certainly at least {ProportionMath.Rate3(policy.SevereDrop)} worse")
                : string.Create(CultureInfo.InvariantCulture, $"; worse than the tolerance {ProportionMath.Rate3(policy.Tolerance)}"));
            if (alarms > 1)
            {
                text.Append(CultureInfo.InvariantCulture, $"; {alarms - 1} more drop(s) beyond the tolerance");
            }

            if (omnibusAlarm)
            {
                text.Append("; the rows given the actual class also shifted (").Append(Omnibus(evidence)).Append(')');
            }

            return (decision, text.ToString());
        }

        if (omnibusAlarm)
        {
            return (DriftDecision.Drift, string.Create(
                CultureInfo.InvariantCulture,
                $"what the model predicts for some actual class shifted: {Omnibus(evidence)}, excess KL >= {ProportionMath.P(policy.KlThreshold)}"));
        }

        if (!deltas.Exists(d => d.Sufficient) && !deltas.Exists(d => d.EValue > 1))
        {
            return (DriftDecision.InsufficientEvidence, string.Create(
                CultureInfo.InvariantCulture,
                $"no recall or false-positive-rate comparison has every expected cell count >= {policy.MinExpectedCellCount} yet ({live.Total} live vs {reference.Total} reference predictions)"));
        }

        ClassDelta? largest = null;
        foreach (var delta in deltas)
        {
            if (delta.Sufficient && (largest is null || delta.UpperBound > largest.UpperBound))
            {
                largest = delta;
            }
        }

        var largestNote = largest is null ? "no comparison is judged at this look" : "least certain: " + Describe(largest, classNames, policy);
        return (DriftDecision.NoDrift, string.Create(
            CultureInfo.InvariantCulture,
            $"no drop is surely beyond the tolerance {ProportionMath.Rate3(policy.Tolerance)}; {largestNote}; excess KL={evidence.Divergence.Kl.ToString("0.0000", CultureInfo.InvariantCulture)}"));
    }

    private static string Describe(ClassDelta delta, IReadOnlyList<string>? classNames, DriftPolicy policy)
    {
        var name = ClassLabel(delta.ClassIndex, classNames);
        var what = delta.Metric == "recall" ? $"recall of {name}" : $"false-positive rate into {name}";
        var population = delta.Metric == "recall" ? $"actual {name}" : $"actual other than {name}";
        var lower = double.IsNegativeInfinity(delta.LowerBound) ? "-inf" : ProportionMath.Signed3(delta.LowerBound);
        var upper = double.IsPositiveInfinity(delta.UpperBound) ? "+inf" : ProportionMath.Signed3(delta.UpperBound);
        return string.Create(
            CultureInfo.InvariantCulture,
            $"{what} {Verb(delta)} from {ProportionMath.Rate3(delta.Reference)} to {ProportionMath.Rate3(delta.Live)} (drop {ProportionMath.Signed3(delta.Drop)}, always-valid bounds [{lower}, {upper}], e-value {ProportionMath.P(delta.EValue)}) over {delta.LiveDenominator} vs {delta.ReferenceDenominator} {population}");
    }

    private static string Verb(ClassDelta delta) =>
        (delta.Metric == "recall") == (delta.Drop > 0) ? "fell" : delta.Drop == 0 ? "stayed" : "rose";

    private static string Omnibus(Evidence evidence) =>
        string.Create(
            CultureInfo.InvariantCulture,
            $"excess KL={evidence.Divergence.Kl.ToString("0.0000", CultureInfo.InvariantCulture)} nats, G={evidence.Divergence.G.ToString("0.0", CultureInfo.InvariantCulture)} on {evidence.Divergence.DegreesOfFreedom} df, p={ProportionMath.P(evidence.Divergence.PValue)}, information-spent adjusted p={ProportionMath.P(evidence.OmnibusAdjusted)}");

    private static string ClassLabel(int classIndex, IReadOnlyList<string>? classNames) =>
        classNames is not null && classIndex < classNames.Count && !string.IsNullOrEmpty(classNames[classIndex])
            ? "'" + classNames[classIndex] + "'"
            : "class " + classIndex.ToString(CultureInfo.InvariantCulture);
}
