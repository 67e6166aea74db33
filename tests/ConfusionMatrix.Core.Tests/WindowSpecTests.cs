namespace ConfusionMatrix.Core.Tests;

public sealed class WindowSpecTests
{
    [Theory]
    [InlineData("5m", 5)]
    [InlineData("15m", 15)]
    [InlineData("1m", 1)]
    [InlineData("60m", 60)]
    [InlineData("1h", 60)]
    [InlineData("6h", 360)]
    [InlineData("24h", 1440)]
    [InlineData(" 5M ", 5)]
    public void TryParse_ValidWindows(string text, int minutes)
    {
        Assert.True(WindowSpec.TryParse(text, out var window, out var error));
        Assert.Equal(TimeSpan.FromMinutes(minutes), window);
        Assert.Null(error);
    }

    [Theory]
    [InlineData("all")]
    [InlineData("ALL")]
    public void TryParse_All_IsNullWindow(string text)
    {
        Assert.True(WindowSpec.TryParse(text, out var window, out var error));
        Assert.Null(window);
        Assert.Null(error);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("0m")]
    [InlineData("61m")]
    [InlineData("0h")]
    [InlineData("25h")]
    [InlineData("90s")]
    [InlineData("0d")]
    [InlineData("32d")]
    [InlineData("-5m")]
    [InlineData("+5m")]
    [InlineData("1.5h")]
    [InlineData("5")]
    [InlineData("m")]
    [InlineData("5 m")]
    public void TryParse_InvalidWindows_ExplainAllowedForms(string? text)
    {
        Assert.False(WindowSpec.TryParse(text, out var window, out var error));
        Assert.Null(window);
        Assert.NotNull(error);
        Assert.Contains("'all'", error);
        Assert.Contains("<1-60>m", error);
        Assert.Contains("<1-24>h", error);
    }

    [Theory]
    [InlineData(null, "all")]
    [InlineData(5, "5m")]
    [InlineData(60, "1h")]
    [InlineData(1440, "24h")]
    [InlineData(7 * 1440, "7d")]
    [InlineData(31 * 1440, "31d")]
    public void Format_RoundTripsWithTryParse(int? minutes, string expected)
    {
        TimeSpan? window = minutes is { } m ? TimeSpan.FromMinutes(m) : null;

        Assert.Equal(expected, WindowSpec.Format(window));
        Assert.True(WindowSpec.TryParse(expected, out var parsed, out _));
        Assert.Equal(window, parsed);
    }
}
