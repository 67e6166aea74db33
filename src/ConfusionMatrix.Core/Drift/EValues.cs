namespace ConfusionMatrix.Core.Drift;

/// <summary>Multiple testing with e-values (Wang and Ramdas, "False discovery rate control with e-values", 2022).</summary>
public static class EValues
{
    /// <summary>
    /// e-BH at false discovery rate <paramref name="alpha"/>: with n e-values sorted in decreasing order, k is the
    /// largest index with e_(k) &gt;= n / (alpha k), and the k largest are discoveries. Valid under any dependence
    /// between the tests, which the segments of one model (one stable arm, shared traffic) certainly have.
    /// </summary>
    /// <returns>How many discoveries (k, 0 when none); hypothesis i is a discovery when its e-value is at least
    /// <see cref="Threshold"/>(n, k, alpha).</returns>
    public static int BenjaminiHochbergCount(IReadOnlyList<double> eValues, double alpha)
    {
        ArgumentNullException.ThrowIfNull(eValues);
        if (!(alpha > 0 && alpha < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(alpha), alpha, "The false discovery rate must be in (0, 1).");
        }

        var n = eValues.Count;
        var sorted = new double[n];
        for (var i = 0; i < n; i++)
        {
            if (!(eValues[i] >= 0))
            {
                throw new ArgumentException($"e-value {i} must be nonnegative (got {eValues[i]}).", nameof(eValues));
            }

            sorted[i] = eValues[i];
        }

        Array.Sort(sorted, (a, b) => b.CompareTo(a));
        for (var k = n; k >= 1; k--)
        {
            if (sorted[k - 1] >= Threshold(n, k, alpha))
            {
                return k;
            }
        }

        return 0;
    }

    /// <summary>The e-value a hypothesis needs among n when k are discovered: n / (alpha max(k, 1)).</summary>
    public static double Threshold(int n, int k, double alpha) => Math.Max(1, n) / (alpha * Math.Max(1, k));

    /// <summary>Which of <paramref name="eValues"/> are e-BH discoveries at <paramref name="alpha"/>.</summary>
    public static bool[] BenjaminiHochberg(IReadOnlyList<double> eValues, double alpha)
    {
        var k = BenjaminiHochbergCount(eValues, alpha);
        var selected = new bool[eValues.Count];
        if (k == 0)
        {
            return selected;
        }

        var threshold = Threshold(eValues.Count, k, alpha);
        for (var i = 0; i < selected.Length; i++)
        {
            selected[i] = eValues[i] >= threshold;
        }

        return selected;
    }
}
