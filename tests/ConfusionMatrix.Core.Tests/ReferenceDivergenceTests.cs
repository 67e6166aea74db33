using System.Text.Json;

namespace ConfusionMatrix.Core.Tests;

public sealed class ReferenceDivergenceTests
{
    public static IEnumerable<object[]> Cases() => ReferenceData.DivergenceNames();

    [Theory]
    [MemberData(nameof(Cases))]
    public void KullbackLeibler_MatchesReference(string source, string name)
    {
        var (live, baseline, alpha, expected) = Load(source, name);

        Approx.Equal(expected.GetProperty("kl").GetDouble(), Divergence.KullbackLeibler(live, baseline, alpha), "kl");
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void JensenShannon_MatchesReference(string source, string name)
    {
        var (live, baseline, alpha, expected) = Load(source, name);

        Approx.Equal(expected.GetProperty("js").GetDouble(), Divergence.JensenShannon(live, baseline, alpha), "js");
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void GTest_MatchesReference(string source, string name)
    {
        var (live, baseline, _, expected) = Load(source, name);

        var (g, df, p) = Divergence.GTest(live, baseline);

        Approx.Equal(expected.GetProperty("g").GetDouble(), g, "g");
        Assert.Equal(expected.GetProperty("df").GetInt32(), df);
        Approx.Equal(expected.GetProperty("pValue").GetDouble(), p, "pValue");
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Compare_MatchesReferenceForEveryField(string source, string name)
    {
        var (live, baseline, alpha, expected) = Load(source, name);

        var result = Divergence.Compare(live, baseline, alpha);

        Approx.Equal(expected.GetProperty("kl").GetDouble(), result.Kl, "kl");
        Approx.Equal(expected.GetProperty("js").GetDouble(), result.Js, "js");
        Approx.Equal(expected.GetProperty("g").GetDouble(), result.G, "g");
        Assert.Equal(expected.GetProperty("df").GetInt32(), result.DegreesOfFreedom);
        Approx.Equal(expected.GetProperty("pValue").GetDouble(), result.PValue, "pValue");
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void GTest_RowOverload_MatchesMatrixOverload(string source, string name)
    {
        var (live, baseline, _, expected) = Load(source, name);

        var (g, df, p) = Divergence.GTest(live.ToDense(), baseline.ToDense());

        Approx.Equal(expected.GetProperty("g").GetDouble(), g, "g");
        Assert.Equal(expected.GetProperty("df").GetInt32(), df);
        Approx.Equal(expected.GetProperty("pValue").GetDouble(), p, "pValue");
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void GTest_EmbeddedInSparseMatrix_IgnoresEmptyCells(string source, string name)
    {
        var (live, baseline, _, expected) = Load(source, name);

        var (g, df, p) = Divergence.GTest(Embed(live, 500), Embed(baseline, 500));

        Approx.Equal(expected.GetProperty("g").GetDouble(), g, "g");
        Assert.Equal(expected.GetProperty("df").GetInt32(), df);
        Approx.Equal(expected.GetProperty("pValue").GetDouble(), p, "pValue");
    }

    [Fact]
    public void KlAndJs_SparseMatrix_MatchDenseComputationOverAllCells()
    {
        const int k = 80;
        var random = new Random(11);
        var live = new ConfusionCounts(k);
        var baseline = new ConfusionCounts(k);
        for (var i = 0; i < 3000; i++)
        {
            live.Add(random.Next(k), random.Next(10));
            baseline.Add(random.Next(k), random.Next(12));
        }

        Assert.True(live.IsSparse);
        var p = Smoothed(live.ToDense(), 0.5);
        var q = Smoothed(baseline.ToDense(), 0.5);
        double kl = 0, js = 0;
        for (var i = 0; i < p.Length; i++)
        {
            var m = (p[i] + q[i]) / 2;
            kl += p[i] * Math.Log(p[i] / q[i]);
            js += (0.5 * p[i] * Math.Log(p[i] / m)) + (0.5 * q[i] * Math.Log(q[i] / m));
        }

        Approx.Equal(kl, Divergence.KullbackLeibler(live, baseline), "kl");
        Approx.Equal(js, Divergence.JensenShannon(live, baseline), "js");
    }

    [Fact]
    public void Identical_Matrices_HaveZeroDivergenceAndPValueOne()
    {
        var counts = ConfusionCounts.FromRows([[50, 5], [3, 42]]);

        var result = Divergence.Compare(counts, counts.Clone());

        Assert.Equal(0, result.Kl, 15);
        Assert.Equal(0, result.Js, 15);
        Assert.Equal(0, result.G, 12);
        Assert.Equal(3, result.DegreesOfFreedom);
        Assert.Equal(1, result.PValue, 12);
    }

    [Fact]
    public void GTest_EmptyRow_IsZeroWithNoDegreesOfFreedom()
    {
        var result = Divergence.GTest(new ConfusionCounts(2), ConfusionCounts.FromRows([[1, 2], [3, 4]]));

        Assert.Equal((0.0, 0, 1.0), result);
    }

    [Fact]
    public void GTest_SingleNonEmptyColumn_IsZeroWithNoDegreesOfFreedom()
    {
        Assert.Equal((0.0, 0, 1.0), Divergence.GTest([5, 0], [7, 0]));
    }

    [Fact]
    public void GTest_TwoByTwo_MatchesHandComputation()
    {
        // live = (30, 10), baseline = (20, 40): expected counts from margins, G = 2 Σ O ln(O/E).
        double n = 100, liveTotal = 40, baselineTotal = 60, c0 = 50, c1 = 50;
        var expectedG = 2 * ((30 * Math.Log(30 / (liveTotal * c0 / n))) + (10 * Math.Log(10 / (liveTotal * c1 / n)))
            + (20 * Math.Log(20 / (baselineTotal * c0 / n))) + (40 * Math.Log(40 / (baselineTotal * c1 / n))));

        var (g, df, p) = Divergence.GTest([30, 10], [20, 40]);

        Approx.Equal(expectedG, g, "g");
        Assert.Equal(1, df);
        Approx.Equal(ChiSquared.SurvivalFunction(expectedG, 1), p, "p");
    }

    [Fact]
    public void Smoothing_AlphaMustBePositive()
    {
        var counts = ConfusionCounts.FromRows([[1, 0], [0, 1]]);

        Assert.Throws<ArgumentOutOfRangeException>(() => Divergence.KullbackLeibler(counts, counts, 0));
        Assert.Throws<ArgumentException>(() => Divergence.Compare(counts, new ConfusionCounts(3)));
    }

    private static double[] Smoothed(long[] cells, double alpha)
    {
        double total = 0;
        foreach (var c in cells)
        {
            total += c + alpha;
        }

        var result = new double[cells.Length];
        for (var i = 0; i < cells.Length; i++)
        {
            result[i] = (cells[i] + alpha) / total;
        }

        return result;
    }

    private static ConfusionCounts Embed(ConfusionCounts small, int classCount)
    {
        var large = new ConfusionCounts(classCount);
        for (var a = 0; a < small.ClassCount; a++)
        {
            for (var p = 0; p < small.ClassCount; p++)
            {
                large.Add(a + 200, p + 300, small[a, p]);
            }
        }

        Assert.True(large.IsSparse);
        return large;
    }

    private static (ConfusionCounts Live, ConfusionCounts Baseline, double Alpha, JsonElement Expected) Load(string source, string name)
    {
        var testCase = ReferenceData.DivergenceCase(source, name);
        return (
            ConfusionCounts.FromRows(ReferenceData.Matrix(testCase.GetProperty("live"))),
            ConfusionCounts.FromRows(ReferenceData.Matrix(testCase.GetProperty("baseline"))),
            testCase.GetProperty("alpha").GetDouble(),
            testCase.GetProperty("expected"));
    }
}
