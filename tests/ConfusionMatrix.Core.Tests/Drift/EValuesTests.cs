using ConfusionMatrix.Core.Drift;

namespace ConfusionMatrix.Core.Tests.Drift;

public sealed class EValuesTests
{
    [Fact]
    public void EBH_FindsTheLargestKWhoseKthEValueReachesNOverAlphaK()
    {
        // n = 4, alpha = 0.1: k = 2 needs e(2) >= 20 (30 does), k = 3 needs e(3) >= 13.3 (2 does not).
        double[] e = [2, 100, 1, 30];

        Assert.Equal(2, EValues.BenjaminiHochbergCount(e, 0.1));
        Assert.Equal([false, true, false, true], EValues.BenjaminiHochberg(e, 0.1));
    }

    [Theory]
    [InlineData(13, 0.05, 259.9, false)]
    [InlineData(13, 0.05, 260.0, true)]
    [InlineData(1, 0.05, 20.0, true)]
    public void ASingleDiscovery_NeedsNOverAlpha_LikeBonferroni(int n, double alpha, double strongest, bool discovered)
    {
        var e = Enumerable.Repeat(1.0, n).ToArray();
        e[0] = strongest;

        Assert.Equal(discovered, EValues.BenjaminiHochberg(e, alpha)[0]);
    }

    [Fact]
    public void UnderTheGlobalNull_AnyDiscoveryIsRarerThanAlpha()
    {
        // e-values of 13 true nulls: likelihood ratios N(1,1) vs N(0,1) at data drawn from N(0,1) (mean 1 each).
        var random = new Random(99);
        const int runs = 4000;
        const double alpha = 0.05;
        var any = 0;
        for (var run = 0; run < runs; run++)
        {
            var e = new double[13];
            for (var i = 0; i < e.Length; i++)
            {
                var z = Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
                e[i] = Math.Exp(z - 0.5);
            }

            any += EValues.BenjaminiHochbergCount(e, alpha) > 0 ? 1 : 0;
        }

        Assert.True(any / (double)runs <= alpha, $"{any}/{runs} runs had a discovery");
    }

    [Fact]
    public void NegativeEValues_AreRefused()
    {
        Assert.Throws<ArgumentException>(() => EValues.BenjaminiHochbergCount([1, -1], 0.05));
        Assert.Throws<ArgumentOutOfRangeException>(() => EValues.BenjaminiHochbergCount([1], 0));
    }
}
