namespace ConfusionMatrix.Core.Drift;

/// <summary>
/// Verdict for one (version, segment) look, ordered by severity. The wire form (<c>DriftVerdict.Decision</c>) uses the
/// same four words; <see cref="DriftDecisions"/> is the one place that maps between them.
/// </summary>
public enum DriftDecision
{
    /// <summary>Too few predictions (or no comparison meets the expected-cell rule) to say anything.</summary>
    InsufficientEvidence = 0,

    /// <summary>Judged, and no drop's lower bound is above the tolerance.</summary>
    NoDrift = 1,

    /// <summary>The lower bound of a drop is above the tolerance (or the omnibus row test alarmed): pause.</summary>
    Drift = 2,

    /// <summary>The lower bound of a drop is at or above the severe threshold: roll back.</summary>
    Severe = 3,
}

/// <summary>The wire words of <see cref="DriftDecision"/>.</summary>
public static class DriftDecisions
{
    public const string InsufficientEvidence = "insufficient_evidence";
    public const string NoDrift = "no_drift";
    public const string Drift = "drift";
    public const string Severe = "severe";

    public static string ToWire(DriftDecision decision) => decision switch
    {
        DriftDecision.InsufficientEvidence => InsufficientEvidence,
        DriftDecision.NoDrift => NoDrift,
        DriftDecision.Drift => Drift,
        DriftDecision.Severe => Severe,
        _ => throw new ArgumentOutOfRangeException(nameof(decision), decision, "Unknown drift decision."),
    };

    public static DriftDecision FromWire(string decision) => decision switch
    {
        InsufficientEvidence => DriftDecision.InsufficientEvidence,
        NoDrift => DriftDecision.NoDrift,
        Drift => DriftDecision.Drift,
        Severe => DriftDecision.Severe,
        _ => throw new ArgumentOutOfRangeException(nameof(decision), decision, "Unknown drift decision."),
    };
}

/// <summary>
/// One per-class comparison of a rate conditional on the actual class: "recall" (of actual class c, predicted c) or
/// "fpr" (of actual other classes, predicted c). <paramref name="Drop"/> is how much worse live is (recall: reference -
/// live; fpr: live - reference). <paramref name="LowerBound"/> and <paramref name="UpperBound"/> bound the true drop at
/// every look at once: the lower bound at the decision level <paramref name="Level"/>, the upper at the gate level.
/// <paramref name="EValue"/> is the largest mixture likelihood ratio so far against "drop &lt;= tolerance".
/// </summary>
public sealed record ClassDelta(
    int ClassIndex,
    string Metric,
    double Reference,
    double Live,
    double Drop,
    double LowerBound,
    double UpperBound,
    double EValue,
    double Level,
    long ReferenceDenominator,
    long LiveDenominator,
    bool Sufficient,
    bool Significant,
    bool Severe)
{
    /// <summary>1 / e-value (capped at 1): an always-valid p-value for "drop &lt;= tolerance".</summary>
    public double AlwaysValidPValue => EValue <= 1 ? 1 : 1 / EValue;

    /// <summary>Point estimate above the tolerance (for display; decisions use the bounds).</summary>
    public bool Material => Significant || Drop > 0;

    /// <summary>Judged and its lower bound is above the tolerance: this finding alone raises at least Drift.</summary>
    public bool IsAlarm => Sufficient && Significant;
}

/// <summary>
/// Result of one look. <paramref name="Divergence"/> is the conditional (row) divergence with excess KL;
/// <paramref name="OmnibusAdjustedPValue"/> is its p-value divided by the alpha share this look may spend (compare with
/// the family's alpha). <paramref name="EValue"/> is this segment's e-value for the model-wide e-BH (largest per-class
/// e-value divided by the number of comparisons). <paramref name="NonInferior"/>: judged, and every judged comparison's
/// upper bound is below the tolerance.
/// </summary>
public sealed record DriftAssessment(
    DriftDecision Decision,
    string Reason,
    DivergenceResult Divergence,
    double OmnibusAdjustedPValue,
    long LiveTotal,
    long ReferenceTotal,
    IReadOnlyList<ClassDelta> ClassDeltas,
    double EValue = 1,
    bool OmnibusAlarm = false,
    bool NonInferior = false);

/// <summary>
/// One segment-vs-rest comparison of a fairness dimension. <paramref name="Gap"/> = <paramref name="SegmentRate"/> -
/// <paramref name="RestRate"/> in the judged version; with a stable reference, <paramref name="ReferenceGap"/> is the
/// same gap in the stable version and the alert is about the widening (Gap - ReferenceGap).
/// </summary>
public sealed record SegmentRateGap(
    string Segment,
    string Metric,
    double SegmentRate,
    double RestRate,
    double Gap,
    double AlwaysValidPValue,
    double Threshold,
    long SegmentDenominator,
    long RestDenominator,
    bool Sufficient,
    bool Significant,
    bool Material,
    double? ReferenceGap = null,
    double LowerBound = double.NegativeInfinity)
{
    /// <summary>Sufficient, significant and material.</summary>
    public bool IsAlarm => Sufficient && Significant && Material;
}

/// <summary>Fairness verdict for one dimension (e.g. "region") of one model version.</summary>
public sealed record FairnessAssessment(string Dimension, bool Alert, string Reason, IReadOnlyList<SegmentRateGap> Gaps);
