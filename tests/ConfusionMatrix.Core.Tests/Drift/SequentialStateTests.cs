using ConfusionMatrix.Core.Drift;

namespace ConfusionMatrix.Core.Tests.Drift;

public sealed class SequentialStateTests
{
    [Fact]
    public void UnseenKey_HasPValueOne_AndNoLooks()
    {
        var state = new SequentialState();

        Assert.Equal(0, state.Looks);
        Assert.Equal(1, state.MinPValue("recall:1"));
        Assert.Empty(state.Snapshot());
    }

    [Fact]
    public void Update_KeepsTheRunningMinimum_MonotonicallyNonIncreasing()
    {
        var state = new SequentialState();
        double[] looks = [0.8, 0.3, 0.5, 0.04, 0.9, 0.04, 0.2, 0.001, 0.7];
        double expected = 1;

        foreach (var p in looks)
        {
            var before = state.MinPValue("k");
            var after = state.Update("k", p);
            expected = Math.Min(expected, p);

            Assert.Equal(expected, after);
            Assert.True(after <= before);
            Assert.Equal(after, state.MinPValue("k"));
        }

        Assert.Equal(0.001, state.MinPValue("k"));
        Assert.Equal(1, state.MinPValue("other"));
    }

    [Fact]
    public void NextLook_CountsLooks()
    {
        var state = new SequentialState();

        state.NextLook();
        state.NextLook();
        state.NextLook();

        Assert.Equal(3, state.Looks);
    }

    [Fact]
    public void SnapshotAndRestore_RoundTrip_AndSnapshotIsACopy()
    {
        var state = new SequentialState();
        state.NextLook();
        state.NextLook();
        state.Update("recall:0", 0.2);
        state.Update("precision:1", 0.03);
        var snapshot = state.Snapshot();

        state.Update("recall:0", 0.01);
        var restored = SequentialState.Restore(state.Looks, snapshot);

        Assert.Equal(0.2, snapshot["recall:0"]);
        Assert.Equal(2, restored.Looks);
        Assert.Equal(0.2, restored.MinPValue("recall:0"));
        Assert.Equal(0.03, restored.MinPValue("precision:1"));
    }

    [Fact]
    public void InvalidValues_AreRejected()
    {
        var state = new SequentialState();

        Assert.Throws<ArgumentOutOfRangeException>(() => state.Update("k", 1.5));
        Assert.Throws<ArgumentOutOfRangeException>(() => state.Update("k", double.NaN));
        Assert.Throws<ArgumentOutOfRangeException>(() => SequentialState.Restore(-1, new Dictionary<string, double>()));
        Assert.Throws<ArgumentException>(() => SequentialState.Restore(1, new Dictionary<string, double> { ["k"] = double.NaN }));
    }
}
