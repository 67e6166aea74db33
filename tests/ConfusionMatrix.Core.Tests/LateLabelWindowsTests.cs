using ConfusionMatrix.Core;
using Microsoft.Extensions.Time.Testing;

namespace ConfusionMatrix.Core.Tests;

/// <summary>How late labels, corrections and expiries reach the windows of their prediction's event time.</summary>
public sealed class LateLabelWindowsTests
{
    private static readonly DateTimeOffset Now = new(2030, 3, 10, 12, 30, 0, TimeSpan.Zero);

    [Fact]
    public void ApplyDelta_LandsInTheEventTimeWindowAndCanBeMovedBetweenCells()
    {
        var clock = new FakeTimeProvider(Now);
        var windows = new RollingConfusionWindows(2, clock);
        var threeHoursAgo = Now.AddHours(-3).UtcTicks;
        var tenDaysAgo = Now.AddDays(-10).UtcTicks;

        Assert.True(windows.ApplyDelta(1, threeHoursAgo, 1)); // actual 0, predicted 1
        Assert.True(windows.ApplyDelta(3, tenDaysAgo, 1));

        Assert.Equal(0, windows.Query(TimeSpan.FromHours(1)).Total);
        Assert.Equal(1, windows.Query(TimeSpan.FromHours(6))[0, 1]);
        Assert.Equal(1, windows.Query(TimeSpan.FromDays(11))[1, 1]);
        Assert.Equal(2, windows.AllTime.Total);

        // A correction: out of cell (0,1), into cell (1,1), at the same event time.
        Assert.True(windows.ApplyDelta(1, threeHoursAgo, -1));
        Assert.True(windows.ApplyDelta(3, threeHoursAgo, 1));
        var sixHours = windows.Query(TimeSpan.FromHours(6));
        Assert.Equal(0, sixHours[0, 1]);
        Assert.Equal(1, sixHours[1, 1]);
        Assert.Equal(2, windows.AllTime[1, 1]);
        Assert.Equal(0, windows.AllTime[0, 1]);
    }

    [Fact]
    public void ApplyDelta_NeverTakesACellBelowZero()
    {
        var windows = new RollingConfusionWindows(2, new FakeTimeProvider(Now));

        Assert.False(windows.ApplyDelta(2, Now.UtcTicks, -1));
        Assert.Equal(0, windows.AllTime.Total);
        Assert.Throws<ArgumentOutOfRangeException>(() => windows.ApplyDelta(0, Now.UtcTicks, 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => windows.ApplyDelta(4, Now.UtcTicks, 1));
    }

    [Fact]
    public void ApplyDelta_BeyondEveryRingChangesOnlyAllTime()
    {
        var windows = new RollingConfusionWindows(2, new FakeTimeProvider(Now));
        var ninetyDaysAgo = Now.AddDays(-90).UtcTicks;

        Assert.True(windows.ApplyDelta(0, ninetyDaysAgo, 1));
        Assert.Equal(1, windows.AllTime.Total);
        Assert.Equal(0, windows.Query(TimeSpan.FromDays(31)).Total);
        Assert.True(windows.ApplyDelta(0, ninetyDaysAgo, -1));
        Assert.Equal(0, windows.AllTime.Total);
    }

    [Fact]
    public void QueryEventTimeRange_UsesTheFinestRingThatRetainsTheStart()
    {
        var clock = new FakeTimeProvider(Now);
        var windows = new RollingConfusionWindows(2, clock);
        windows.ApplyDelta(0, Now.AddMinutes(-10).UtcTicks, 1);
        windows.ApplyDelta(0, Now.AddHours(-5).UtcTicks, 1);
        windows.ApplyDelta(0, Now.AddDays(-4).UtcTicks, 1);
        windows.ApplyDelta(0, Now.AddDays(-6).UtcTicks, 1);

        var lastHalfHour = windows.QueryEventTimeRange(Now.AddMinutes(-30), Now);
        Assert.Equal(1, lastHalfHour.Counts.Total);
        Assert.Equal(Now.AddMinutes(-30), lastHalfHour.From);

        var hoursSix = windows.QueryEventTimeRange(Now.AddHours(-6), Now.AddHours(-1));
        Assert.Equal(1, hoursSix.Counts.Total);
        Assert.Equal(Now.AddHours(-6).AddMinutes(-30), hoursSix.From); // aligned down to the hour bucket

        var matured = windows.QueryEventTimeRange(Now.AddDays(-7), Now.AddDays(-3));
        Assert.Equal(2, matured.Counts.Total);
        Assert.Equal(new DateTimeOffset(2030, 3, 3, 0, 0, 0, TimeSpan.Zero), matured.From);
        Assert.Equal(new DateTimeOffset(2030, 3, 7, 0, 0, 0, TimeSpan.Zero), matured.To);
    }

    [Fact]
    public void Snapshot_KeepsDayBuckets()
    {
        var clock = new FakeTimeProvider(Now);
        var windows = new RollingConfusionWindows(3, clock);
        windows.ApplyDelta(4, Now.AddDays(-5).UtcTicks, 1);

        var restored = RollingConfusionWindows.FromSnapshot(windows.ToSnapshot(), clock);

        Assert.Equal(1, restored.Query(TimeSpan.FromDays(7))[1, 1]);
        Assert.True(restored.AllTime.ContentEquals(windows.AllTime));
    }

    [Fact]
    public void LabelStatus_TracksPendingExpiredAndLatencyByWindow()
    {
        var clock = new FakeTimeProvider(Now);
        var status = new LabelStatusWindows(3, clock);
        var twoHoursAgo = Now.AddHours(-2).UtcTicks;

        status.ApplyPending(2, twoHoursAgo, 1);
        status.ApplyPending(2, twoHoursAgo, 1);
        status.ApplyPending(1, Now.AddDays(-3).UtcTicks, 1);
        status.ApplyPending(2, twoHoursAgo, -1); // labelled
        status.RecordLatency(TimeSpan.FromMinutes(45).Ticks, twoHoursAgo);
        status.ApplyPending(1, Now.AddDays(-3).UtcTicks, -1); // expired
        status.ApplyExpired(1, Now.AddDays(-3).UtcTicks, 1);

        var (pending, expired, latency) = status.Query(TimeSpan.FromHours(6));
        Assert.Equal([0L, 0, 1], pending);
        Assert.Equal([0L, 0, 0], expired);
        Assert.Equal(1, latency[LabelStatusWindows.LatencyBucketOf(TimeSpan.FromMinutes(45).Ticks)]);

        var (_, expiredAll, _) = status.Query(null);
        Assert.Equal([0L, 1, 0], expiredAll);

        var restored = LabelStatusWindows.FromSnapshot(status.ToSnapshot(), clock);
        Assert.Equal(pending, restored.Query(TimeSpan.FromHours(6)).Pending);
    }

    [Fact]
    public void LatencyQuantile_InterpolatesInsideBuckets()
    {
        var histogram = new long[LabelStatusWindows.LatencyBucketCount];
        histogram[LabelStatusWindows.LatencyBucketOf(TimeSpan.FromSeconds(30).Ticks)] = 50; // (0, 1 min]
        histogram[LabelStatusWindows.LatencyBucketOf(TimeSpan.FromDays(20).Ticks)] = 50; // (14 d, 30 d]

        Assert.Equal(TimeSpan.FromMinutes(1), LabelStatusWindows.LatencyQuantile(histogram, 0.5));
        Assert.Equal(TimeSpan.FromDays(14 + (16 * 0.8)), LabelStatusWindows.LatencyQuantile(histogram, 0.9));
        Assert.Null(LabelStatusWindows.LatencyQuantile(new long[LabelStatusWindows.LatencyBucketCount], 0.5));
    }
}
