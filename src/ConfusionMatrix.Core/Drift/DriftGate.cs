namespace ConfusionMatrix.Core.Drift;

/// <summary>What a promotion gate answers.</summary>
public enum GateOutcome
{
    /// <summary>Not enough evidence either way: do not promote yet.</summary>
    Inconclusive = 0,

    /// <summary>Every judged comparison of every judged segment is shown within the tolerance.</summary>
    Pass = 1,

    /// <summary>A segment is in drift, or a fairness gap widened.</summary>
    Fail = 2,
}

/// <summary>One segment's latest verdict as the gate sees it.</summary>
/// <param name="JudgedComparisons">Comparisons with enough data at the latest look.</param>
/// <param name="WithinTolerance">Of those, how many have an upper bound of the drop below the tolerance.</param>
/// <param name="LeastCertain">Text of the judged comparison with the largest upper bound, for the reason.</param>
public sealed record GateSegment(string Segment, DriftDecision Decision, int JudgedComparisons, int WithinTolerance, string Reason, string? LeastCertain = null);

/// <summary>The gate's answer.</summary>
public sealed record GateResult(GateOutcome Outcome, string Reason)
{
    public bool Pass => Outcome == GateOutcome.Pass;

    public bool Inconclusive => Outcome == GateOutcome.Inconclusive;
}

/// <summary>
/// Non-inferiority gate for one version: it passes only when at least one segment is judged and, in every judged segment,
/// the upper confidence bound of every judged drop is below the tolerance (an intersection-union test: each bound at
/// level alpha gives the whole gate level alpha, no correction needed). No evidence is never a pass.
/// </summary>
public static class DriftGate
{
    public static GateResult Evaluate(string version, IReadOnlyList<GateSegment> segments, string? fairnessAlert = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(version);
        ArgumentNullException.ThrowIfNull(segments);
        var alarms = segments.Where(s => s.Decision is DriftDecision.Drift or DriftDecision.Severe)
            .OrderByDescending(s => s.Decision).ToList();
        if (alarms.Count > 0)
        {
            return new GateResult(GateOutcome.Fail, $"{alarms.Count} segment(s) of {version} in drift; worst: {alarms[0].Segment}: {alarms[0].Reason}");
        }

        if (fairnessAlert is not null)
        {
            return new GateResult(GateOutcome.Fail, fairnessAlert);
        }

        var judged = segments.Where(s => s.Decision == DriftDecision.NoDrift && s.JudgedComparisons > 0).ToList();
        if (judged.Count == 0)
        {
            return new GateResult(
                GateOutcome.Inconclusive,
                segments.Count == 0
                    ? $"no segment of {version} has been judged yet"
                    : $"none of the {segments.Count} segment(s) of {version} has enough labelled predictions to judge yet");
        }

        var open = judged.Where(s => s.WithinTolerance < s.JudgedComparisons).ToList();
        if (open.Count > 0)
        {
            return new GateResult(
                GateOutcome.Inconclusive,
                $"{open.Count} of {judged.Count} judged segment(s) of {version} not yet shown within the tolerance; e.g. {open[0].Segment}: {open[0].LeastCertain ?? open[0].Reason}");
        }

        return new GateResult(GateOutcome.Pass, $"{judged.Count} segment(s) of {version} judged, every judged drop's upper bound is below the tolerance");
    }
}
