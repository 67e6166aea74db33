namespace ConfusionMatrix.Core;

/// <summary>
/// Divergence of the matrix rows given the actual class: what the model predicts for the items of each actual class,
/// live against reference. Conditioning on the actual class makes the comparison blind to prevalence (how many items
/// of each class arrive), which is a property of the traffic, not of the model.
/// </summary>
/// <remarks>
/// <para><c>Kl</c> is the EXCESS divergence: sum over rows c of w_c (KL_c - d_c / (2 n_c)), floored at 0, where w_c is the
/// live share of actual class c, KL_c = KL(live row c || reference row c) on smoothed rows, d_c + 1 the number of
/// bins of row c (see below) and n_c = nLive nRef / (nLive + nRef). The subtracted term is what
/// KL_c averages under no drift at these sample sizes (2 n_c KL_c is about chi-square with d_c degrees of freedom), so
/// no drift gives Kl near 0 at any K and any sample size.</para>
/// <para>Within a row, predicted classes seen fewer than <see cref="MinBinCount"/> times (both sides together) are pooled
/// into one bin, and each of the row's m_c bins gets smoothing alpha / m_c (alpha per row in total, a Dirichlet prior
/// whose weight does not grow with K): a fixed per-cell pseudo-count would, at K = 50, put 25 invented items in every
/// row, and a tiny one would turn every singleton into a large log ratio.</para>
/// <para>The G-test sums the 2 x m_c homogeneity tests of the rows (df = sum of m_c - 1) on raw counts of the bins.</para>
/// </remarks>
public static class ConditionalDivergence
{
    /// <summary>Predicted classes seen fewer times than this in a row (both sides together) are pooled into one bin.</summary>
    public const int MinBinCount = 10;

    /// <summary>Excess conditional KL, conditional JS (weighted like KL, not excess), G, df and p-value.</summary>
    public static DivergenceResult Compare(ConfusionCounts live, ConfusionCounts reference, double alpha = Divergence.DefaultAlpha)
    {
        ArgumentNullException.ThrowIfNull(live);
        ArgumentNullException.ThrowIfNull(reference);
        if (live.ClassCount != reference.ClassCount)
        {
            throw new ArgumentException($"Class count mismatch: {live.ClassCount} vs {reference.ClassCount}.", nameof(reference));
        }

        if (!(alpha > 0) || double.IsInfinity(alpha))
        {
            throw new ArgumentOutOfRangeException(nameof(alpha), alpha, "Smoothing alpha must be positive and finite.");
        }

        var k = live.ClassCount;
        if (live.Total == 0 || reference.Total == 0 || k < 2)
        {
            return new DivergenceResult(0, 0, 0, 0, 1);
        }

        var liveCells = new List<int>();
        var liveCounts = new List<long>();
        var refCells = new List<int>();
        var refCounts = new List<long>();
        live.CopyNonZeroCells(liveCells, liveCounts);
        reference.CopyNonZeroCells(refCells, refCounts);
        var liveRows = new long[k];
        var refRows = new long[k];
        for (var i = 0; i < liveCells.Count; i++)
        {
            liveRows[liveCells[i] / k] += liveCounts[i];
        }

        for (var i = 0; i < refCells.Count; i++)
        {
            refRows[refCells[i] / k] += refCounts[i];
        }

        double kl = 0, js = 0, halfG = 0, expectedKl = 0;
        long df = 0;
        int li = 0, ri = 0;
        var pairs = new List<(long Live, long Reference)>();
        for (var row = 0; row < k; row++)
        {
            long nl = liveRows[row], nr = refRows[row];
            var rowEnd = (row + 1) * k;
            pairs.Clear();
            long rareLive = 0, rareReference = 0;
            while ((li < liveCells.Count && liveCells[li] < rowEnd) || (ri < refCells.Count && refCells[ri] < rowEnd))
            {
                var lc = li < liveCells.Count && liveCells[li] < rowEnd ? liveCells[li] : int.MaxValue;
                var rc = ri < refCells.Count && refCells[ri] < rowEnd ? refCells[ri] : int.MaxValue;
                var cell = Math.Min(lc, rc);
                var x = lc == cell ? liveCounts[li++] : 0;
                var y = rc == cell ? refCounts[ri++] : 0;
                if (x + y >= MinBinCount)
                {
                    pairs.Add((x, y));
                }
                else
                {
                    // Rare predictions of this actual class share one bin: a handful of singletons says nothing
                    // about a shift, but with a tiny pseudo-count each would add ln(1 + 1/beta) to KL.
                    rareLive += x;
                    rareReference += y;
                }
            }

            if (nl == 0 || nr == 0)
            {
                continue;
            }

            if (rareLive + rareReference > 0)
            {
                pairs.Add((rareLive, rareReference));
            }

            var bins = pairs.Count;
            if (bins < 2)
            {
                continue;
            }

            var weight = (double)nl / live.Total;
            var beta = alpha / bins;
            double pDen = nl + alpha, qDen = nr + alpha;
            double rowKl = 0, rowJs = 0, rowHalfG = 0;
            foreach ((var x, var y) in pairs)
            {
                double p = (x + beta) / pDen, q = (y + beta) / qDen, m = 0.5 * (p + q);
                rowKl += p * Math.Log(p / q);
                rowJs += (0.5 * p * Math.Log(p / m)) + (0.5 * q * Math.Log(q / m));

                // G on raw counts: expected under a common row distribution.
                var pooled = (double)(x + y) / (nl + nr);
                if (x > 0)
                {
                    rowHalfG += x * Math.Log(x / (pooled * nl));
                }

                if (y > 0)
                {
                    rowHalfG += y * Math.Log(y / (pooled * nr));
                }
            }

            var effective = (double)nl * nr / (nl + nr);
            kl += weight * rowKl;
            js += weight * rowJs;
            expectedKl += weight * (bins - 1) / (2 * effective);
            halfG += rowHalfG;
            df += bins - 1;
        }

        if (df == 0)
        {
            return new DivergenceResult(Math.Max(0, kl - expectedKl), Math.Max(0, js), 0, 0, 1);
        }

        var g = Math.Max(0, 2 * halfG);
        var degrees = (int)Math.Min(int.MaxValue, df);
        return new DivergenceResult(Math.Max(0, kl - expectedKl), Math.Max(0, js), g, degrees, ChiSquared.SurvivalFunction(g, degrees));
    }
}
