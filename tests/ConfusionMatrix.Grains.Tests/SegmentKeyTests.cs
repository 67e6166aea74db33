using ConfusionMatrix.Abstractions;

namespace ConfusionMatrix.Grains.Tests;

/// <summary>The written form of segments: <c>all</c> or <c>dimension=value</c>, under the prediction rules.</summary>
public sealed class SegmentKeyTests
{
    [Fact]
    public void All_IsTheDefault_AndRoundTrips()
    {
        Assert.True(SegmentKey.TryParse("all", out var all));
        Assert.True(all.IsAll);
        Assert.Equal(default, all);
        Assert.Equal("all", all.ToString());
        Assert.Equal("x/v1/all", Segments.MatrixKey("x", "v1", SegmentKey.All));
    }

    [Theory]
    [InlineData("region=EU", "region", "EU")]
    [InlineData("channel=web=mobile", "channel", "web=mobile")]
    [InlineData("zip=1/2", "zip", "1/2")]
    public void DimensionValue_SplitsAtTheFirstEqualsSign(string text, string dimension, string value)
    {
        var key = SegmentKey.Parse(text);
        Assert.Equal(dimension, key.Dimension);
        Assert.Equal(value, key.Value);
        Assert.True(key.IsIn(dimension));
        Assert.Equal(text, key.ToString());
        Assert.Equal(key, SegmentKey.Of(dimension, value));
        Assert.Equal(Segments.For(dimension, value), key.ToString());
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("All")]
    [InlineData("region")]
    [InlineData("=EU")]
    [InlineData(" =EU")]
    [InlineData("region=")]
    [InlineData("region= ")]
    public void AnythingElse_IsRefusedWithAReason(string? text)
    {
        Assert.False(SegmentKey.TryParse(text, out _, out var error));
        Assert.False(string.IsNullOrWhiteSpace(error));
        Assert.Throws<FormatException>(() => SegmentKey.Parse(text!));
    }

    [Fact]
    public void ValueLongerThanTheLimit_IsRefused_AsTheIntakeRefusesIt()
    {
        var value = new string('v', PredictionLimits.MaxSegmentValueLength + 1);
        Assert.False(SegmentKey.TryParse($"region={value}", out _));
        Assert.NotNull(PredictionRules.CheckSegment("region", value));
        Assert.Throws<ArgumentException>(() => SegmentKey.Of("region", value));
        Assert.True(SegmentKey.TryParse($"region={value[1..]}", out _));
    }
}
