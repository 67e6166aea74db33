using ConfusionMatrix.Core.Estimation;

namespace ConfusionMatrix.Core.Tests.Estimation;

public sealed class CategoricalShiftTests(Xunit.Abstractions.ITestOutputHelper log)
{
    private static readonly double[] Unchanged = [0.90, 0.08, 0.02];

    [Fact]
    public void UnchangedDistributionLookedAtTwentyTimesPerEpoch_IsFlaggedInAtMostOnePercentOfEpochs()
    {
        const int epochs = 300, looks = 20, perLook = 500;
        var flagged = 0;
        for (var epoch = 0; epoch < epochs; epoch++)
        {
            var random = new Random(1000 + epoch);
            var canary = new long[3];
            var stable = new long[3];
            for (var look = 0; look < looks; look++)
            {
                Draw(random, Unchanged, perLook, canary);
                Draw(random, Unchanged, perLook * 9, stable);
                if (CategoricalShift.Compare(canary, stable).Shifted)
                {
                    flagged++;
                    break;
                }
            }
        }

        log.WriteLine($"unchanged: {flagged} of {epochs} epochs flagged");
        Assert.True(flagged <= epochs / 100, $"{flagged} of {epochs} epochs flagged a shift that is not there");
    }

    [Fact]
    public void FraudShareThatDoubles_IsFlaggedWithinAFewLooks_AndTheIntervalCoversTheTrueChange()
    {
        const int runs = 100, perLook = 1000;
        double[] shifted = [0.89, 0.08, 0.03];
        var looksNeeded = new List<int>();
        var covered = 0;
        for (var run = 0; run < runs; run++)
        {
            var random = new Random(5000 + run);
            var canary = new long[3];
            var stable = new long[3];
            for (var look = 1; look <= 30; look++)
            {
                Draw(random, shifted, perLook, canary);
                Draw(random, Unchanged, perLook * 9, stable);
                var result = CategoricalShift.Compare(canary, stable);
                if (result.Shifted)
                {
                    // Legit lost the point fraud gained; review did not move and must not be the one flagged.
                    Assert.False(result.Categories[1].Shifted, $"run {run}: an unchanged class was flagged");
                    Assert.All(result.Categories.Where(c => c.Shifted), c => Assert.Equal(c.Index == 2, c.Difference > 0));
                    looksNeeded.Add(look);
                    double[] truth = [-0.01, 0, 0.01];
                    covered += result.Categories.All(c => c.Lower <= truth[c.Index] && truth[c.Index] <= c.Upper) ? 1 : 0;
                    break;
                }
            }
        }

        log.WriteLine($"2% -> 3%: flagged in {looksNeeded.Count} of {runs} runs, median look {looksNeeded.Order().ElementAtOrDefault(looksNeeded.Count / 2)}, intervals covered in {covered}");
        Assert.True(looksNeeded.Count >= 95, $"only {looksNeeded.Count} of {runs} runs flagged a share that went from 2% to 3%");
        var median = looksNeeded.Order().ElementAt(looksNeeded.Count / 2);
        Assert.True(median <= 10, $"median {median} looks of {perLook} canary predictions");
        Assert.True(covered >= 0.95 * looksNeeded.Count, $"the intervals covered every true change in {covered} of {looksNeeded.Count} flagged runs");
    }

    [Fact]
    public void BelowTheMinimumPerArm_NothingIsFlagged_HoweverDifferent()
    {
        var result = CategoricalShift.Compare([199, 0], [0, 5000]);
        Assert.False(result.Sufficient);
        Assert.False(result.Shifted);
        Assert.All(result.Categories, c => Assert.Equal(1, c.PValue));

        var enough = CategoricalShift.Compare([200, 0], [0, 5000]);
        Assert.True(enough.Sufficient);
        Assert.True(enough.Shifted);
    }

    [Fact]
    public void IdenticalCounts_GiveAPValueOfOne_AndAnIntervalAroundZero()
    {
        var result = CategoricalShift.Compare([900, 80, 20], [9000, 800, 200]);
        Assert.False(result.Shifted);
        Assert.All(result.Categories, c =>
        {
            Assert.Equal(0, c.Difference, 12);
            Assert.Equal(1, c.PValue);
            Assert.True(c.Lower < 0 && c.Upper > 0);
        });
    }

    [Fact]
    public void MismatchedOrNegativeCounts_AreRefused()
    {
        Assert.Throws<ArgumentException>(() => CategoricalShift.Compare([1, 2], [1, 2, 3]));
        Assert.Throws<ArgumentException>(() => CategoricalShift.Compare([1], [1]));
        Assert.Throws<ArgumentOutOfRangeException>(() => CategoricalShift.Compare([1, -2], [1, 2]));
        Assert.NotEmpty(new CategoricalShiftOptions { Alpha = 0.7, MinimumPerArm = 0, MixingStandardDeviation = 0 }.Validate());
        Assert.Empty(CategoricalShiftOptions.Default.Validate());
    }

    private static void Draw(Random random, double[] shares, int n, long[] into)
    {
        for (var i = 0; i < n; i++)
        {
            var u = random.NextDouble();
            var c = 0;
            while (c < shares.Length - 1 && u >= shares[c])
            {
                u -= shares[c];
                c++;
            }

            into[c]++;
        }
    }
}
