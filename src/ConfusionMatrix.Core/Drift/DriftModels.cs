namespace ConfusionMatrix.Core.Drift;

/// <summary>Verdict for one (version, segment) look. Ordered by severity.</summary>
public enum DriftDecision
{
    /// <summary>Too few predictions (or no comparison meets the expected-cell rule) to say anything.</summary>
    InsufficientEvidence = 0,

    /// <summary>Enough data and no finding that is both significant and material.</summary>
    NoDrift = 1,

    /// <summary>A significant and material drop (or a significant, material joint-matrix shift): alert.</summary>
    Drift = 2,

    /// <summary>A significant drop of at least <see cref="DriftPolicy.SevereDrop"/>: pause or roll back.</summary>
    Severe = 3,
}

/// <summary>
/// One per-class comparison. <paramref name="Drop"/> = <paramref name="Reference"/> - <paramref name="Live"/> (positive:
/// live is worse). Rates are 0 when their denominator is 0 (then the comparison is not sufficient).
/// <paramref name="AlwaysValidPValue"/> is the running minimum over the epoch's looks of the mSPRT p-value for a drop;
/// <paramref name="Threshold"/> = Alpha / (2K). An alarm needs Sufficient, Significant and Material.
/// </summary>
public sealed record ClassDelta(
    int ClassIndex,
    string Metric,
    double Reference,
    double Live,
    double Drop,
    double AlwaysValidPValue,
    double Threshold,
    long ReferenceDenominator,
    long LiveDenominator,
    bool Sufficient,
    bool Significant,
    bool Material)
{
    /// <summary>Sufficient, significant and material: this finding alone raises at least Drift.</summary>
    public bool IsAlarm => Sufficient && Significant && Material;
}

/// <summary>
/// Result of one look. <paramref name="OmnibusAdjustedPValue"/> is the G-test p-value of this look multiplied by its
/// alpha-spending factor pi^2 i^2 / 6 (capped at 1): compare it with Alpha directly.
/// </summary>
public sealed record DriftAssessment(
    DriftDecision Decision,
    string Reason,
    DivergenceResult Divergence,
    double OmnibusAdjustedPValue,
    long LiveTotal,
    long ReferenceTotal,
    IReadOnlyList<ClassDelta> ClassDeltas);

/// <summary>
/// One segment-vs-rest comparison of a fairness dimension. <paramref name="Gap"/> = <paramref name="SegmentRate"/> -
/// <paramref name="RestRate"/>; <paramref name="Threshold"/> = Alpha / (2S).
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
    bool Material)
{
    /// <summary>Sufficient, significant and material.</summary>
    public bool IsAlarm => Sufficient && Significant && Material;
}

/// <summary>Fairness verdict for one dimension (e.g. "region") of one model version.</summary>
public sealed record FairnessAssessment(string Dimension, bool Alert, string Reason, IReadOnlyList<SegmentRateGap> Gaps);
