namespace ConfusionMatrix.Core.Tests;

public sealed class SmokeTests
{
    [Fact]
    public void Add_IncrementsCell()
    {
        var counts = new ConfusionCounts(2);
        counts.Add(1, 0);
        Assert.Equal(1, counts[1, 0]);
        Assert.Equal(1, counts.Total);
    }
}
