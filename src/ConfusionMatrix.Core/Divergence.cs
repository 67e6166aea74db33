namespace ConfusionMatrix.Core;

/// <summary>Distance between a live and a baseline confusion matrix: two effect sizes and a significance test.</summary>
public readonly record struct DivergenceResult(double Kl, double Js, double G, int DegreesOfFreedom, double PValue);

/// <summary>
/// Compares a live confusion matrix with a baseline. KL and JS run on additively smoothed cell distributions
/// (alpha in every one of the K*K cells) so empty cells never produce infinities; the G-test runs on raw counts
/// because smoothing would invent evidence. Sparse matrices are handled in O(non-zero cells): cells empty in
/// both matrices all contribute the same smoothed term, which is added once times their number.
/// </summary>
public static class Divergence
{
    /// <summary>Jeffreys prior: a common, mild default that keeps rare cells from dominating KL.</summary>
    public const double DefaultAlpha = 0.5;

    /// <summary>KL, JS and G-test in one call.</summary>
    public static DivergenceResult Compare(ConfusionCounts live, ConfusionCounts baseline, double alpha = DefaultAlpha)
    {
        var (g, df, p) = GTest(live, baseline);
        return new DivergenceResult(
            KullbackLeibler(live, baseline, alpha),
            JensenShannon(live, baseline, alpha),
            g,
            df,
            p);
    }

    /// <summary>KL(P_live || Q_baseline) in nats on smoothed distributions.</summary>
    public static double KullbackLeibler(ConfusionCounts live, ConfusionCounts baseline, double alpha = DefaultAlpha)
    {
        var visitor = new KlVisitor(Smoothing.Create(live, baseline, alpha));
        var bothEmpty = VisitCellPairs(live, baseline, ref visitor);
        visitor.Visit(0, 0, bothEmpty);
        return Math.Max(0, visitor.Sum);
    }

    /// <summary>Jensen-Shannon divergence in nats (bounded by ln 2) on smoothed distributions.</summary>
    public static double JensenShannon(ConfusionCounts live, ConfusionCounts baseline, double alpha = DefaultAlpha)
    {
        var visitor = new JsVisitor(Smoothing.Create(live, baseline, alpha));
        var bothEmpty = VisitCellPairs(live, baseline, ref visitor);
        visitor.Visit(0, 0, bothEmpty);
        return Math.Max(0, visitor.Sum);
    }

    /// <summary>
    /// G-test of homogeneity over the 2 x m table whose columns are the K*K cells (cells empty in both dropped).
    /// With m ≤ 1 there is nothing to compare: G = 0, df = 0, p = 1. If either matrix is empty: G = 0, df = 0, p = 1.
    /// </summary>
    public static (double G, int DegreesOfFreedom, double PValue) GTest(ConfusionCounts live, ConfusionCounts baseline)
    {
        RequireSameShape(live, baseline);
        if (live.Total == 0 || baseline.Total == 0)
        {
            return (0, 0, 1);
        }

        var visitor = new GVisitor(live.Total, baseline.Total);
        VisitCellPairs(live, baseline, ref visitor);
        return Finish(visitor.Sum, visitor.Columns);
    }

    /// <summary>
    /// G-test of homogeneity for a general 2 x m table given as two rows of raw counts (e.g. a per-class 2x2 test).
    /// Columns empty in both rows are dropped; df = m - 1. With m ≤ 1: G = 0, df = 0, p = 1.
    /// If either row total is 0: G = 0, df = 0, p = 1. No Yates continuity correction is applied.
    /// </summary>
    public static (double G, int DegreesOfFreedom, double PValue) GTest(ReadOnlySpan<long> liveRow, ReadOnlySpan<long> baselineRow)
    {
        if (liveRow.Length != baselineRow.Length)
        {
            throw new ArgumentException("Both rows must have the same number of columns.", nameof(baselineRow));
        }

        long liveTotal = 0, baselineTotal = 0;
        for (var i = 0; i < liveRow.Length; i++)
        {
            if (liveRow[i] < 0 || baselineRow[i] < 0)
            {
                throw new ArgumentException($"Column {i} has a negative count.", nameof(liveRow));
            }

            liveTotal += liveRow[i];
            baselineTotal += baselineRow[i];
        }

        if (liveTotal == 0 || baselineTotal == 0)
        {
            return (0, 0, 1);
        }

        var visitor = new GVisitor(liveTotal, baselineTotal);
        for (var i = 0; i < liveRow.Length; i++)
        {
            if (liveRow[i] != 0 || baselineRow[i] != 0)
            {
                visitor.Visit(liveRow[i], baselineRow[i], 1);
            }
        }

        return Finish(visitor.Sum, visitor.Columns);
    }

    private static (double G, int DegreesOfFreedom, double PValue) Finish(double halfG, long columns)
    {
        if (columns <= 1)
        {
            return (0, 0, 1);
        }

        var df = (int)Math.Min(int.MaxValue, columns - 1);
        var g = Math.Max(0, 2 * halfG);
        return (g, df, ChiSquared.SurvivalFunction(g, df));
    }

    private static void RequireSameShape(ConfusionCounts live, ConfusionCounts baseline)
    {
        ArgumentNullException.ThrowIfNull(live);
        ArgumentNullException.ThrowIfNull(baseline);
        if (live.ClassCount != baseline.ClassCount)
        {
            throw new ArgumentException(
                $"Class count mismatch: live has {live.ClassCount}, baseline has {baseline.ClassCount}.", nameof(baseline));
        }
    }

    /// <summary>
    /// Calls the visitor once per cell non-empty in either matrix; returns how many cells are empty in both. Written
    /// against the matrices' non-zero cell walk, so dense and sparse matrices (and a mix) take the same path in
    /// O(non-zero cells).
    /// </summary>
    private static long VisitCellPairs<TVisitor>(ConfusionCounts live, ConfusionCounts baseline, ref TVisitor visitor)
        where TVisitor : struct, ICellPairVisitor
    {
        RequireSameShape(live, baseline);
        long visited = 0;
        foreach ((var cell, var liveCount) in live.NonZeroCells())
        {
            visitor.Visit(liveCount, baseline.GetCell(cell), 1);
            visited++;
        }

        foreach ((var cell, var baselineCount) in baseline.NonZeroCells())
        {
            if (live.GetCell(cell) == 0)
            {
                visitor.Visit(0, baselineCount, 1);
                visited++;
            }
        }

        return ((long)live.ClassCount * live.ClassCount) - visited;
    }

    private interface ICellPairVisitor
    {
        void Visit(long live, long baseline, long multiplicity);
    }

    private readonly record struct Smoothing(double Alpha, double LiveDenominator, double BaselineDenominator)
    {
        public static Smoothing Create(ConfusionCounts live, ConfusionCounts baseline, double alpha)
        {
            RequireSameShape(live, baseline);
            if (!(alpha > 0) || double.IsInfinity(alpha))
            {
                throw new ArgumentOutOfRangeException(nameof(alpha), alpha, "Smoothing alpha must be positive and finite.");
            }

            var cells = (double)live.ClassCount * live.ClassCount;
            return new Smoothing(alpha, live.Total + (alpha * cells), baseline.Total + (alpha * cells));
        }

        public double Live(long count) => (count + Alpha) / LiveDenominator;

        public double Baseline(long count) => (count + Alpha) / BaselineDenominator;
    }

    private struct KlVisitor(Smoothing smoothing) : ICellPairVisitor
    {
        public double Sum;

        public void Visit(long live, long baseline, long multiplicity)
        {
            if (multiplicity == 0)
            {
                return;
            }

            var p = smoothing.Live(live);
            var q = smoothing.Baseline(baseline);
            Sum += multiplicity * p * Math.Log(p / q);
        }
    }

    private struct JsVisitor(Smoothing smoothing) : ICellPairVisitor
    {
        public double Sum;

        public void Visit(long live, long baseline, long multiplicity)
        {
            if (multiplicity == 0)
            {
                return;
            }

            var p = smoothing.Live(live);
            var q = smoothing.Baseline(baseline);
            var m = 0.5 * (p + q);
            Sum += multiplicity * 0.5 * ((p * Math.Log(p / m)) + (q * Math.Log(q / m)));
        }
    }

    /// <summary>Accumulates Σ O ln(O/E) for both rows; E = rowTotal * columnTotal / N.</summary>
    private struct GVisitor(long liveTotal, long baselineTotal) : ICellPairVisitor
    {
        private readonly double _n = (double)liveTotal + baselineTotal;
        public double Sum;
        public long Columns;

        public void Visit(long live, long baseline, long multiplicity)
        {
            var column = (double)live + baseline;
            if (live > 0)
            {
                Sum += live * Math.Log(live * _n / (liveTotal * column));
            }

            if (baseline > 0)
            {
                Sum += baseline * Math.Log(baseline * _n / (baselineTotal * column));
            }

            Columns += multiplicity;
        }
    }
}
