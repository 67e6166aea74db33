using Microsoft.Extensions.Time.Testing;

namespace ConfusionMatrix.Core.Tests;

public sealed class RollingConfusionWindowsTests
{
    private static readonly DateTimeOffset Day = new(2030, 3, 10, 0, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan OneTick = TimeSpan.FromTicks(1);

    [Fact]
    public void RecordCounts_AtMinuteResolution_AnswersEveryWindowAndRangeAsOneAtATime()
    {
        var now = Day.AddDays(3).AddHours(7).AddMinutes(31).AddSeconds(20);
        var one = new RollingConfusionWindows(3, new FakeTimeProvider(now));
        var counted = new RollingConfusionWindows(3, new FakeTimeProvider(now));
        Assert.Equal(TimeSpan.TicksPerMinute, counted.EventTimeResolutionTicks);
        var random = new Random(5);
        var entries = new Dictionary<(long Ticks, int Cell), int>();
        for (var i = 0; i < 5000; i++)
        {
            // Up to 40 days back (beyond the day ring) and up to 10 minutes ahead (beyond the skew allowance).
            var ticks = now.UtcTicks - random.NextInt64(-10 * TimeSpan.TicksPerMinute, 40 * TimeSpan.TicksPerDay);
            var cell = random.Next(9);
            one.RecordBatch([cell], [ticks]);
            var key = (ticks <= now.UtcTicks ? ticks - (ticks % TimeSpan.TicksPerMinute) : ticks, cell);
            entries[key] = entries.GetValueOrDefault(key) + 1;
        }

        counted.RecordCounts([.. entries.Keys.Select(e => e.Cell)], [.. entries.Keys.Select(e => e.Ticks)], [.. entries.Values]);

        static long[] Cells(ConfusionCounts c) => [.. Enumerable.Range(0, 9).Select(i => c[i / 3, i % 3])];
        Assert.Equal(5000, counted.AllTime.Total);
        Assert.Equal(Cells(one.AllTime), Cells(counted.AllTime));
        foreach (var window in new TimeSpan?[] { TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(17), TimeSpan.FromHours(5), TimeSpan.FromDays(3), TimeSpan.FromDays(30) })
        {
            Assert.Equal(Cells(one.Query(window)), Cells(counted.Query(window)));
        }

        Assert.Equal(Cells(one.RollingBaseline()), Cells(counted.RollingBaseline()));
        var from = new DateTimeOffset(now.UtcTicks - (now.UtcTicks % TimeSpan.TicksPerMinute) - (25 * TimeSpan.TicksPerMinute), TimeSpan.Zero);
        Assert.Equal(Cells(one.QueryEventTimeRange(from, now).Counts), Cells(counted.QueryEventTimeRange(from, now).Counts));
        Assert.Throws<ArgumentOutOfRangeException>(() => counted.RecordCounts([0], [now.UtcTicks], [0]));
    }

    [Fact]
    public void Totals_AsClockAdvances_IncludeCurrentBucket()
    {
        var clock = new FakeTimeProvider(Day);
        var windows = new RollingConfusionWindows(2, clock);
        for (var minute = 0; minute < 180; minute++)
        {
            windows.Record(minute % 2, 0, clock.GetUtcNow());
            clock.Advance(TimeSpan.FromMinutes(1));
        }

        // now = 03:00:00, events at 00:00 .. 02:59, current buckets (03:00 minute, 03:00 hour) are empty.
        Assert.Equal(4, Total(windows, "5m"));
        Assert.Equal(14, Total(windows, "15m"));
        Assert.Equal(59, Total(windows, "1h"));
        Assert.Equal(60, Total(windows, "2h"));
        Assert.Equal(180, Total(windows, "6h"));
        Assert.Equal(180, Total(windows, "24h"));
        Assert.Equal(180, Total(windows, "all"));
        Assert.Equal(90, windows.Query(null)[1, 0]);
    }

    [Fact]
    public void Event_DropsOutOfEachWindowExactlyAtBucketBoundary()
    {
        var clock = new FakeTimeProvider(Day.AddHours(12).AddSeconds(30));
        var windows = new RollingConfusionWindows(2, clock);
        windows.Record(1, 1, clock.GetUtcNow());

        clock.SetUtcNow(Day.AddHours(12).AddMinutes(5) - OneTick);
        Assert.Equal(1, Total(windows, "5m"));
        clock.SetUtcNow(Day.AddHours(12).AddMinutes(5));
        Assert.Equal(0, Total(windows, "5m"));
        Assert.Equal(1, Total(windows, "1h"));

        clock.SetUtcNow(Day.AddHours(13) - OneTick);
        Assert.Equal(1, Total(windows, "1h"));
        clock.SetUtcNow(Day.AddHours(13));
        Assert.Equal(0, Total(windows, "1h"));
        Assert.Equal(1, Total(windows, "24h"));

        clock.SetUtcNow(Day.AddHours(36) - OneTick);
        Assert.Equal(1, Total(windows, "24h"));
        clock.SetUtcNow(Day.AddHours(36));
        Assert.Equal(0, Total(windows, "24h"));
        Assert.Equal(1, Total(windows, "all"));
        Assert.Equal(1, windows.AllTime[1, 1]);
    }

    [Fact]
    public void RollingBaseline_PicksHoursBetweenSpanAndGap()
    {
        var now = Day.AddHours(12).AddMinutes(30);
        var clock = new FakeTimeProvider(now);
        var windows = new RollingConfusionWindows(2, clock);

        windows.Record(0, 0, Day.AddHours(-14));                       // 26h back in hour terms: beyond the ring
        windows.Record(0, 1, Day.AddHours(-13));                       // oldest baseline hour (D-1 11:00)
        windows.Record(1, 0, Day.AddHours(11) - OneTick);              // newest baseline hour (D 10:00-11:00)
        windows.Record(1, 1, Day.AddHours(11));                        // inside the gap hour
        windows.Record(1, 1, now.AddMinutes(-20));                     // current hour

        Assert.Equal([[0L, 1L], [1L, 0L]], windows.RollingBaseline().ToRows());
        Assert.Equal(2, windows.RollingBaselineTotal);
        Assert.Equal(3, Total(windows, "24h"));
        Assert.Equal(5, windows.AllTime.Total);

        clock.Advance(TimeSpan.FromHours(1));

        Assert.Equal([[0L, 0L], [1L, 1L]], windows.RollingBaseline().ToRows());
        Assert.Equal(2, windows.RollingBaselineTotal);
    }

    [Fact]
    public void StaleEvents_CountOnlyWhereStillRetained()
    {
        var now = Day.AddHours(12);
        var clock = new FakeTimeProvider(now);
        var windows = new RollingConfusionWindows(3, clock);

        windows.Record(0, 0, now.AddHours(-2));
        windows.Record(2, 1, now.AddHours(-30));

        Assert.Equal(0, Total(windows, "5m"));
        Assert.Equal(0, Total(windows, "1h"));
        Assert.Equal(1, Total(windows, "24h"));
        Assert.Equal(1, windows.Query(TimeSpan.FromHours(24))[0, 0]);
        Assert.Equal(2, Total(windows, "all"));
        Assert.Equal(1, windows.AllTime[2, 1]);
    }

    [Fact]
    public void FutureEvents_WithinSkewCountAsNow_BeyondSkewOnlyAllTime()
    {
        var clock = new FakeTimeProvider(Day.AddHours(5));
        var windows = new RollingConfusionWindows(2, clock);

        windows.Record(0, 0, clock.GetUtcNow().AddMinutes(2));
        windows.Record(1, 1, clock.GetUtcNow().AddMinutes(10));

        Assert.Equal(1, Total(windows, "1m"));
        Assert.Equal(1, windows.Query(TimeSpan.FromMinutes(1))[0, 0]);
        Assert.Equal(1, Total(windows, "24h"));
        Assert.Equal(2, Total(windows, "all"));
    }

    [Fact]
    public void RecordBatch_EqualsIndividualRecords()
    {
        var clock = new FakeTimeProvider(Day.AddHours(30));
        var single = new RollingConfusionWindows(4, clock);
        var batched = new RollingConfusionWindows(4, clock);
        var random = new Random(3);
        var cells = new int[500];
        var ticks = new long[500];
        for (var i = 0; i < cells.Length; i++)
        {
            cells[i] = random.Next(16);
            ticks[i] = clock.GetUtcNow().AddMinutes(-random.Next(0, 40 * 60)).UtcTicks;
            single.Record(cells[i] / 4, cells[i] % 4, new DateTimeOffset(ticks[i], TimeSpan.Zero));
        }

        batched.RecordBatch(cells, ticks);

        AssertSameState(single, batched);
        Assert.Equal(500, batched.AllTime.Total);
    }

    [Fact]
    public void RecordBatch_InvalidInput_ThrowsWithoutRecording()
    {
        var windows = new RollingConfusionWindows(2, new FakeTimeProvider(Day));

        Assert.Throws<ArgumentException>(() => windows.RecordBatch([0, 1], [Day.UtcTicks]));
        Assert.Throws<ArgumentOutOfRangeException>(() => windows.RecordBatch([0, 4], [Day.UtcTicks, Day.UtcTicks]));
        Assert.Throws<ArgumentOutOfRangeException>(() => windows.Record(2, 0, Day));
        Assert.Equal(0, windows.AllTime.Total);
    }

    [Theory]
    [InlineData(2)]
    [InlineData(200)]
    public void Memory_IsStableOverFortySimulatedDays(int classCount)
    {
        var clock = new FakeTimeProvider(Day);
        var windows = new RollingConfusionWindows(classCount, clock);
        var cells = new int[3];
        var ticks = new long[3];
        long bytesAfterDayRingFilled = 0;
        for (var minute = 0; minute < 40 * 24 * 60; minute++)
        {
            for (var i = 0; i < cells.Length; i++)
            {
                var cls = ((minute * 3) + i) % Math.Min(classCount, 50);
                cells[i] = (cls * classCount) + ((cls + i) % classCount);
                ticks[i] = clock.GetUtcNow().UtcTicks;
            }

            windows.RecordBatch(cells, ticks);
            clock.Advance(TimeSpan.FromMinutes(1));
            if (minute == (33 * 24 * 60) - 1)
            {
                // Every ring has wrapped by now (the day ring holds 32 days); from here memory must not grow.
                bytesAfterDayRingFilled = windows.EstimatedManagedBytes;
            }
        }

        Assert.Equal(bytesAfterDayRingFilled, windows.EstimatedManagedBytes);
        Assert.Equal(40L * 24 * 60 * 3, windows.AllTime.Total);
        Assert.Equal(6L * 24 * 60 * 3, Total(windows, "7d")); // the current day has just begun (empty), plus six full days
        Assert.Equal(59 * 3, Total(windows, "1h")); // the current (empty) minute is one of the 60 buckets
        Assert.Equal(24 * 180, windows.RollingBaselineTotal);
        if (classCount == 2)
        {
            Assert.True(windows.EstimatedManagedBytes < 16 * 1024, $"K=2 windows use {windows.EstimatedManagedBytes} bytes");
        }
    }

    [Theory]
    [InlineData(3)]
    [InlineData(100)]
    public void Snapshot_RoundTripPreservesEveryWindow(int classCount)
    {
        var clock = new FakeTimeProvider(Day);
        var original = new RollingConfusionWindows(classCount, clock);
        var random = new Random(classCount);
        for (var step = 0; step < 6 * 30; step++)
        {
            original.Record(random.Next(classCount), random.Next(classCount), clock.GetUtcNow());
            clock.Advance(TimeSpan.FromMinutes(10));
        }

        var snapshot = original.ToSnapshot();
        var restored = RollingConfusionWindows.FromSnapshot(snapshot, clock);

        AssertSameState(original, restored);
        Assert.True(original.Query(TimeSpan.FromHours(24)).Total > 0);
        Assert.True(original.RollingBaselineTotal > 0);

        clock.Advance(TimeSpan.FromHours(2));
        original.Record(1, 0, clock.GetUtcNow());
        restored.Record(1, 0, clock.GetUtcNow());
        AssertSameState(original, restored);
    }

    [Fact]
    public void FromSnapshot_RejectsMalformedCells()
    {
        var snapshot = new RollingWindowsSnapshot(2, [0, 5, 3], [], [], [], []);

        Assert.Throws<ArgumentException>(() => RollingConfusionWindows.FromSnapshot(snapshot, new FakeTimeProvider(Day)));
    }

    [Fact]
    public void Query_RejectsWindowsTheRingsCannotServe()
    {
        var windows = new RollingConfusionWindows(2, new FakeTimeProvider(Day));

        Assert.Throws<ArgumentOutOfRangeException>(() => windows.Query(TimeSpan.Zero));
        Assert.Throws<ArgumentOutOfRangeException>(() => windows.Query(TimeSpan.FromDays(33)));
        Assert.Equal(0, windows.Query(TimeSpan.FromHours(26)).Total);
        Assert.Equal(0, windows.Query(TimeSpan.FromDays(32)).Total);
    }

    [Fact]
    public void Options_ValidateNamesTheInconsistentProperty()
    {
        var gap = Assert.Throws<ArgumentException>(() => new RollingWindowOptions { BaselineGap = TimeSpan.FromHours(3) }.Validate());
        Assert.Contains(nameof(RollingWindowOptions.BaselineGap), gap.Message);

        var span = Assert.Throws<ArgumentException>(() => new RollingWindowOptions { BaselineSpan = TimeSpan.FromMinutes(90) }.Validate());
        Assert.Equal(nameof(RollingWindowOptions.BaselineSpan), span.ParamName);

        var count = Assert.Throws<ArgumentException>(() => new RollingWindowOptions { MinuteBucketCount = 0 }.Validate());
        Assert.Equal(nameof(RollingWindowOptions.MinuteBucketCount), count.ParamName);

        Assert.Throws<ArgumentException>(
            () => new RollingConfusionWindows(2, new FakeTimeProvider(Day), new RollingWindowOptions { HourBucketCount = 24 }));
        new RollingWindowOptions().Validate();
    }

    private static long Total(RollingConfusionWindows windows, string window)
    {
        Assert.True(WindowSpec.TryParse(window, out var span, out var error), error);
        return windows.Query(span).Total;
    }

    private static void AssertSameState(RollingConfusionWindows expected, RollingConfusionWindows actual)
    {
        foreach (var window in new[] { "1m", "5m", "15m", "1h", "2h", "6h", "24h", "all" })
        {
            Assert.True(WindowSpec.TryParse(window, out var span, out _));
            Assert.True(expected.Query(span).ContentEquals(actual.Query(span)), $"window {window} differs");
        }

        Assert.True(expected.RollingBaseline().ContentEquals(actual.RollingBaseline()));
        Assert.Equal(expected.RollingBaselineTotal, actual.RollingBaselineTotal);

        var a = expected.ToSnapshot();
        var b = actual.ToSnapshot();
        Assert.Equal(a.ClassCount, b.ClassCount);
        Assert.Equal(a.AllTimeCells, b.AllTimeCells);
        Assert.Equal(a.MinuteBucketStartsUtcTicks, b.MinuteBucketStartsUtcTicks);
        Assert.Equal(a.MinuteBucketCells, b.MinuteBucketCells);
        Assert.Equal(a.HourBucketStartsUtcTicks, b.HourBucketStartsUtcTicks);
        Assert.Equal(a.HourBucketCells, b.HourBucketCells);
    }
}
