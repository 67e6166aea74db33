using ConfusionMatrix.Abstractions;
using ConfusionMatrix.Core;
using ConfusionMatrix.Core.Drift;

namespace ConfusionMatrix.Grains;

/// <summary>
/// The one place where Core results (pure math, no Orleans) become wire records of <c>ConfusionMatrix.Abstractions</c>
/// and back: sparse matrices, the drift policy, drift and fairness verdicts. Grains and the HTTP API both map through
/// here, so a field added to a Core result is added to its wire record in one place. Core types are not made wire types
/// themselves (no Orleans surrogates): Core stays free of Orleans, and the wire records keep their own stable ids.
/// </summary>
public static class WireMapping
{
    /// <summary>Counts of a sparse matrix; a matrix that has seen nothing (class count 0) is an empty K x K matrix.</summary>
    public static ConfusionCounts ToCounts(SparseMatrix matrix, int classCount) =>
        matrix.ClassCount == 0 ? new ConfusionCounts(classCount) : ConfusionCounts.FromCells(matrix.ClassCount, matrix.Cells, matrix.Counts);

    /// <summary>The counts of a matrix view; an empty segment is an empty K x K matrix.</summary>
    public static ConfusionCounts ToCounts(MatrixView view, int classCount) => ToCounts(view.Matrix, classCount);

    /// <summary>The non-zero cells of counts; null (nothing counted yet) is the empty matrix of class count 0.</summary>
    public static SparseMatrix ToSparse(ConfusionCounts? counts)
    {
        if (counts is null)
        {
            return new SparseMatrix(0, [], []);
        }

        var cells = new List<int>();
        var values = new List<long>();
        counts.CopyNonZeroCells(cells, values);
        return new SparseMatrix(counts.ClassCount, [.. cells], [.. values]);
    }

    /// <summary>Rows are actual classes, columns predicted.</summary>
    public static SparseMatrix ToSparse(IReadOnlyList<IReadOnlyList<long>> rows) => ToSparse(ConfusionCounts.FromRows(rows));

    public static DriftPolicy ToCore(DriftPolicySettings p) => new()
    {
        Alpha = p.Alpha,
        Tolerance = p.Tolerance,
        SevereDrop = p.SevereDrop,
        MixingStandardDeviation = p.MixingStandardDeviation,
        KlThreshold = p.KlThreshold,
        MaxFairnessGap = p.MaxFairnessGap,
        MinExpectedCellCount = p.MinExpectedCellCount,
        MinSamples = p.MinSamples,
        SmoothingAlpha = p.SmoothingAlpha,
        OmnibusHalfInformation = p.OmnibusHalfInformation,
    };

    /// <summary>A look's assessment as the verdict of (version, segment); <paramref name="extraDeltas"/> are reported, not tested.</summary>
    public static DriftVerdict ToVerdict(
        string model, string version, string segment, string referenceName, DriftAssessment assessment, IReadOnlyList<string> classes,
        IEnumerable<ClassDeltaView> extraDeltas, long looks, DateTimeOffset at) =>
        new(
            model, version, segment, DriftDecisions.ToWire(assessment.Decision), assessment.Reason, referenceName,
            assessment.Divergence.Kl, assessment.Divergence.Js, assessment.Divergence.G, assessment.Divergence.DegreesOfFreedom,
            assessment.Divergence.PValue, assessment.OmnibusAdjustedPValue, assessment.LiveTotal, assessment.ReferenceTotal,
            [.. assessment.ClassDeltas.Select(d => ToView(d, classes)), .. extraDeltas],
            at,
            looks,
            assessment.EValue,
            assessment.NonInferior);

    public static ClassDeltaView ToView(ClassDelta d, IReadOnlyList<string> classes) =>
        new(
            classes[d.ClassIndex], d.Metric, d.Reference, d.Live, d.Drop, d.AlwaysValidPValue, d.Level,
            d.ReferenceDenominator, d.LiveDenominator, d.Sufficient, d.Significant, d.Material,
            Finite(d.LowerBound), Finite(d.UpperBound), d.EValue, d.Severe);

    public static FairnessVerdict ToVerdict(string model, string version, FairnessAssessment assessment, DateTimeOffset at) =>
        new(model, version, assessment.Dimension, assessment.Alert, assessment.Reason, [.. assessment.Gaps.Select(ToView)], at);

    public static RateGapView ToView(SegmentRateGap g) =>
        new(g.Segment, g.Metric, g.SegmentRate, g.RestRate, g.Gap, g.AlwaysValidPValue, g.Threshold, g.Sufficient, g.Significant, g.Material);

    /// <summary>The decision of a verdict: the wire keeps the word (<see cref="DriftVerdict.Decision"/>, id 3) so that
    /// silos of the previous release read it; code compares this enum.</summary>
    extension(DriftVerdict verdict)
    {
        public DriftDecision Outcome => DriftDecisions.FromWire(verdict.Decision);
    }

    /// <summary>JSON has no infinities: a bound not established yet is null.</summary>
    private static double? Finite(double value) => double.IsFinite(value) ? value : null;
}
