namespace ConfusionMatrix.Core.Tests.Drift;

public sealed class ConditionalDivergenceTests
{
    [Theory]
    [InlineData(2)]
    [InlineData(10)]
    [InlineData(50)]
    public void NoDrift_GivesExcessKlNearZero_AtAnyK(int k)
    {
        var random = new Random(1000 + k);
        double worst = 0;
        for (var repetition = 0; repetition < 10; repetition++)
        {
            var a = Draw(random, k, 50_000, Prevalence(k, skew: 1));
            var b = Draw(random, k, 50_000, Prevalence(k, skew: 1));
            worst = Math.Max(worst, ConditionalDivergence.Compare(a, b).Kl);
        }

        Assert.True(worst < 0.005, $"excess KL {worst} at K={k} with no drift");
    }

    [Fact]
    public void PrevalenceShift_IsInvisible_ButARowShiftIsNot()
    {
        var random = new Random(7);
        var reference = Draw(random, 2, 200_000, [0.96, 0.04]);
        var shifted = Draw(random, 2, 200_000, [0.97, 0.03]);
        var drifted = Draw(random, 2, 200_000, [0.96, 0.04], fraudRecall: 0.50);

        var prevalence = ConditionalDivergence.Compare(shifted, reference);
        var recall = ConditionalDivergence.Compare(drifted, reference);

        Assert.True(prevalence.Kl < 0.001, $"prevalence alone gave excess KL {prevalence.Kl}");
        Assert.True(prevalence.PValue > 1e-4, $"prevalence alone gave p = {prevalence.PValue}");
        Assert.True(recall.Kl > 0.01 && recall.PValue < 1e-12, recall.ToString());
        Assert.Equal(2, recall.DegreesOfFreedom);
    }

    [Fact]
    public void EmptyOrMismatched_Inputs()
    {
        Assert.Equal(0, ConditionalDivergence.Compare(new ConfusionCounts(3), new ConfusionCounts(3)).DegreesOfFreedom);
        Assert.Throws<ArgumentException>(() => ConditionalDivergence.Compare(new ConfusionCounts(2), new ConfusionCounts(3)));
    }

    private static double[] Prevalence(int k, double skew)
    {
        double[] w = [.. Enumerable.Range(0, k).Select(i => 1 / Math.Pow(i + 1, skew))];
        var sum = w.Sum();
        return [.. w.Select(x => x / sum)];
    }

    /// <summary>Accuracy 0.9 (or the given recall for class 1), errors spread evenly over the classes.</summary>
    private static ConfusionCounts Draw(Random random, int k, int n, double[] prevalence, double fraudRecall = 0.9)
    {
        var counts = new ConfusionCounts(k);
        for (var i = 0; i < n; i++)
        {
            var u = random.NextDouble();
            var actual = 0;
            while (actual < k - 1 && (u -= prevalence[actual]) > 0)
            {
                actual++;
            }

            var accuracy = actual == 1 ? fraudRecall : 0.9;
            var predicted = random.NextDouble() < accuracy ? actual : (actual + 1 + random.Next(k - 1)) % k;
            counts.Add(actual, predicted);
        }

        return counts;
    }
}
