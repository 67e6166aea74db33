namespace ConfusionMatrix.Core;

/// <summary>Bucket geometry of <see cref="RollingConfusionWindows"/>. Defaults answer 1m..60m from a minute ring
/// and 1h..24h plus a 24h rolling baseline (ending one hour back) from an hour ring.</summary>
public sealed class RollingWindowOptions
{
    public TimeSpan MinuteBucketWidth { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>Fine ring size: MinuteBucketCount * MinuteBucketWidth is the longest window served from it.</summary>
    public int MinuteBucketCount { get; init; } = 60;

    public TimeSpan HourBucketWidth { get; init; } = TimeSpan.FromHours(1);

    /// <summary>Coarse ring size: must cover the longest hour window and the baseline including its gap.</summary>
    public int HourBucketCount { get; init; } = 26;

    public TimeSpan DayBucketWidth { get; init; } = TimeSpan.FromDays(1);

    /// <summary>Day ring size: windows of 1d..(count-1)d, and event-time cohorts up to a month back (late labels land
    /// in the bucket of their prediction's event time, so a month of cohorts stays correctable).</summary>
    public int DayBucketCount { get; init; } = 32;

    /// <summary>Length of the rolling baseline; a whole number of hour buckets.</summary>
    public TimeSpan BaselineSpan { get; init; } = TimeSpan.FromHours(24);

    /// <summary>Baseline = [now - gap - span, now - gap), both ends aligned down to an hour bucket boundary, so the
    /// most recent traffic (the part suspected of drifting) never contaminates the reference it is compared to.</summary>
    public TimeSpan BaselineGap { get; init; } = TimeSpan.FromHours(1);

    /// <summary>Events stamped up to this far ahead of the clock are counted as "now"; further ahead they go to
    /// all-time only, so a producer with a bad clock cannot evict live buckets by writing into the future.</summary>
    public TimeSpan MaxFutureSkew { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>Throws <see cref="ArgumentException"/> naming the offending property.</summary>
    public void Validate()
    {
        RequirePositive(MinuteBucketWidth, nameof(MinuteBucketWidth));
        RequirePositive(HourBucketWidth, nameof(HourBucketWidth));
        RequirePositive(BaselineSpan, nameof(BaselineSpan));
        if (MinuteBucketCount < 1)
        {
            throw new ArgumentException($"{nameof(MinuteBucketCount)} must be at least 1, was {MinuteBucketCount}.", nameof(MinuteBucketCount));
        }

        RequirePositive(DayBucketWidth, nameof(DayBucketWidth));
        if (DayBucketCount < 1)
        {
            throw new ArgumentException($"{nameof(DayBucketCount)} must be at least 1, was {DayBucketCount}.", nameof(DayBucketCount));
        }

        if (HourBucketCount < 1)
        {
            throw new ArgumentException($"{nameof(HourBucketCount)} must be at least 1, was {HourBucketCount}.", nameof(HourBucketCount));
        }

        if (BaselineGap < TimeSpan.Zero)
        {
            throw new ArgumentException($"{nameof(BaselineGap)} must not be negative.", nameof(BaselineGap));
        }

        if (MaxFutureSkew < TimeSpan.Zero)
        {
            throw new ArgumentException($"{nameof(MaxFutureSkew)} must not be negative.", nameof(MaxFutureSkew));
        }

        if (BaselineSpan.Ticks % HourBucketWidth.Ticks != 0)
        {
            throw new ArgumentException(
                $"{nameof(BaselineSpan)} ({BaselineSpan}) must be a whole number of {nameof(HourBucketWidth)} ({HourBucketWidth}).",
                nameof(BaselineSpan));
        }

        // The oldest baseline bucket is ceil(gap/w) + span/w buckets behind the current one and must still be retained.
        var gapBuckets = (BaselineGap.Ticks + HourBucketWidth.Ticks - 1) / HourBucketWidth.Ticks;
        var spanBuckets = BaselineSpan.Ticks / HourBucketWidth.Ticks;
        if (gapBuckets + spanBuckets > HourBucketCount - 1L)
        {
            throw new ArgumentException(
                $"{nameof(BaselineGap)} + {nameof(BaselineSpan)} need {gapBuckets + spanBuckets + 1} hour buckets " +
                $"(including the current one) but {nameof(HourBucketCount)} is {HourBucketCount}.",
                nameof(HourBucketCount));
        }
    }

    internal long BaselineBucketCount => BaselineSpan.Ticks / HourBucketWidth.Ticks;

    private static void RequirePositive(TimeSpan value, string name)
    {
        if (value <= TimeSpan.Zero)
        {
            throw new ArgumentException($"{name} must be positive, was {value}.", name);
        }
    }
}

/// <summary>Plain-array state of <see cref="RollingConfusionWindows"/> for persistence. Cell arrays are interleaved
/// (cell, count, cell, count, ...); an unused slot has start -1 and an empty cell array. Day buckets are optional so
/// snapshots written before the day ring existed still restore.</summary>
public sealed record RollingWindowsSnapshot(
    int ClassCount,
    long[] AllTimeCells,
    long[] MinuteBucketStartsUtcTicks,
    long[][] MinuteBucketCells,
    long[] HourBucketStartsUtcTicks,
    long[][] HourBucketCells,
    long[]? DayBucketStartsUtcTicks = null,
    long[][]? DayBucketCells = null);

/// <summary>Counts of predictions whose event time lies in [<see cref="From"/>, <see cref="To"/>): the requested range
/// widened or narrowed to the edges of the buckets that answered it.</summary>
public sealed record EventTimeRangeCounts(ConfusionCounts Counts, DateTimeOffset From, DateTimeOffset To);

/// <summary>
/// Bounded-memory rolling confusion matrices over event time. Every event is counted in the all-time matrix and,
/// when its bucket is still retained, in both a fine (minute) and a coarse (hour) ring of buckets. Rings rotate
/// lazily on Record/Query using the injected clock: a slot whose bucket fell out of retention is cleared before
/// reuse, so memory depends on ring sizes and K only, never on how long the process runs.
/// </summary>
/// <remarks>Not thread-safe; intended to be owned by a single actor.</remarks>
public sealed class RollingConfusionWindows
{
    private const long UnusedSlot = -1;

    private readonly TimeProvider _clock;
    private readonly RollingWindowOptions _options;
    private readonly ConfusionCounts _allTime;
    private readonly BucketRing _minutes;
    private readonly BucketRing _hours;
    private readonly BucketRing _days;

    public RollingConfusionWindows(int classCount, TimeProvider clock, RollingWindowOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(clock);
        _options = options ?? new RollingWindowOptions();
        _options.Validate();
        _clock = clock;
        _allTime = new ConfusionCounts(classCount);
        _minutes = new BucketRing(classCount, _options.MinuteBucketWidth.Ticks, _options.MinuteBucketCount);
        _hours = new BucketRing(classCount, _options.HourBucketWidth.Ticks, _options.HourBucketCount);
        _days = new BucketRing(classCount, _options.DayBucketWidth.Ticks, _options.DayBucketCount);
    }

    public int ClassCount => _allTime.ClassCount;

    /// <summary>Every event ever recorded. This is the live instance: read it, do not mutate it.</summary>
    public ConfusionCounts AllTime => _allTime;

    /// <summary>Total of <see cref="RollingBaseline"/> without building the matrix (cheap readiness check).</summary>
    public long RollingBaselineTotal
    {
        get
        {
            var now = RotateToNow();
            var (first, last) = BaselineRange(now);
            return _hours.Total(first, last);
        }
    }

    public long EstimatedManagedBytes =>
        64 + _allTime.EstimatedManagedBytes + _minutes.EstimatedManagedBytes + _hours.EstimatedManagedBytes + _days.EstimatedManagedBytes;

    /// <summary>Records one prediction outcome at its event time.</summary>
    public void Record(int actual, int predicted, DateTimeOffset eventTime)
    {
        var k = ClassCount;
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)actual, (uint)k, nameof(actual));
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)predicted, (uint)k, nameof(predicted));
        var now = RotateToNow();
        RecordCell((actual * k) + predicted, eventTime.UtcTicks, now);
    }

    /// <summary>Records many outcomes (cell = actual*K + predicted, event time as UTC ticks). Everything is validated
    /// before anything is applied; the clock is read once.</summary>
    public void RecordBatch(ReadOnlySpan<int> cells, ReadOnlySpan<long> eventTimeUtcTicks)
    {
        if (cells.Length != eventTimeUtcTicks.Length)
        {
            throw new ArgumentException(
                $"cells ({cells.Length}) and eventTimeUtcTicks ({eventTimeUtcTicks.Length}) must have the same length.",
                nameof(eventTimeUtcTicks));
        }

        CheckCellsAndTimes(cells, eventTimeUtcTicks);
        var now = RotateToNow();
        for (var i = 0; i < cells.Length; i++)
        {
            RecordCell(cells[i], eventTimeUtcTicks[i], now);
        }
    }

    /// <summary>Throws on the first cell outside the K x K matrix or time that is not a UTC tick count.</summary>
    private void CheckCellsAndTimes(ReadOnlySpan<int> cells, ReadOnlySpan<long> eventTimeUtcTicks)
    {
        var cellCount = (uint)(ClassCount * ClassCount);
        for (var i = 0; i < cells.Length; i++)
        {
            if ((uint)cells[i] >= cellCount)
            {
                throw new ArgumentOutOfRangeException(nameof(cells), cells[i], $"Cell index must be in [0, {cellCount}).");
            }

            if ((ulong)eventTimeUtcTicks[i] > (ulong)DateTime.MaxValue.Ticks)
            {
                throw new ArgumentOutOfRangeException(nameof(eventTimeUtcTicks), eventTimeUtcTicks[i], "Not a valid UTC tick count.");
            }
        }
    }

    /// <summary>
    /// Records pre-aggregated outcomes: <paramref name="counts"/>[i] predictions in <paramref name="cells"/>[i] at
    /// event time <paramref name="eventTimeUtcTicks"/>[i]. The same as <see cref="RecordBatch"/> with each entry repeated
    /// count times, provided the times were rounded down to no coarser than <see cref="EventTimeResolutionTicks"/>
    /// (a future time must stay exact, so the skew allowance sees it as it was). Validated before anything is applied.
    /// </summary>
    public void RecordCounts(ReadOnlySpan<int> cells, ReadOnlySpan<long> eventTimeUtcTicks, ReadOnlySpan<int> counts)
    {
        if (cells.Length != eventTimeUtcTicks.Length || cells.Length != counts.Length)
        {
            throw new ArgumentException(
                $"cells ({cells.Length}), eventTimeUtcTicks ({eventTimeUtcTicks.Length}) and counts ({counts.Length}) must have the same length.",
                nameof(counts));
        }

        CheckCellsAndTimes(cells, eventTimeUtcTicks);
        for (var i = 0; i < counts.Length; i++)
        {
            if (counts[i] <= 0)
            {
                throw new ArgumentOutOfRangeException(nameof(counts), counts[i], "A count must be positive.");
            }
        }

        var now = RotateToNow();
        for (var i = 0; i < cells.Length; i++)
        {
            RecordCell(cells[i], eventTimeUtcTicks[i], now, counts[i]);
        }
    }

    /// <summary>
    /// The coarsest rounding of event times that every ring and the event-time range queries still answer exactly:
    /// the greatest common divisor of the bucket widths (one minute with the default options).
    /// </summary>
    public long EventTimeResolutionTicks => ResolutionOf(_options);

    /// <summary><see cref="EventTimeResolutionTicks"/> of windows built with the default <see cref="RollingWindowOptions"/>.</summary>
    public static long DefaultEventTimeResolutionTicks { get; } = ResolutionOf(new RollingWindowOptions());

    private static long ResolutionOf(RollingWindowOptions options) =>
        Gcd(Gcd(options.MinuteBucketWidth.Ticks, options.HourBucketWidth.Ticks), options.DayBucketWidth.Ticks);

    private static long Gcd(long a, long b)
    {
        while (b != 0)
        {
            (a, b) = (b, a % b);
        }

        return a;
    }

    /// <summary>
    /// Adds (<paramref name="delta"/> = 1) or takes back (-1) one prediction in <paramref name="cell"/> at its event
    /// time: how a late label, a correction or an expiry reaches the windows its prediction belongs to. A take-back
    /// from a bucket that never received the prediction (it was beyond retention then) is skipped per bucket; the
    /// result says whether the all-time matrix changed.
    /// </summary>
    public bool ApplyDelta(int cell, long eventTimeUtcTicks, int delta)
    {
        if ((uint)cell >= (uint)(ClassCount * ClassCount))
        {
            throw new ArgumentOutOfRangeException(nameof(cell), cell, $"Cell index must be in [0, {ClassCount * ClassCount}).");
        }

        if (delta is not (1 or -1))
        {
            throw new ArgumentOutOfRangeException(nameof(delta), delta, "A delta is +1 or -1.");
        }

        var now = RotateToNow();
        if (delta > 0)
        {
            RecordCell(cell, eventTimeUtcTicks, now);
            return true;
        }

        if (!_allTime.TryRemoveOne(cell))
        {
            return false;
        }

        var eventTicks = ClampToNow(eventTimeUtcTicks, now);
        if (eventTicks >= 0)
        {
            _minutes.TryRemove(cell, eventTicks, now);
            _hours.TryRemove(cell, eventTicks, now);
            _days.TryRemove(cell, eventTicks, now);
        }

        return true;
    }

    /// <summary>
    /// Counts of the predictions whose event time lies in [<paramref name="from"/>, <paramref name="to"/>), answered
    /// by the finest ring that still retains <paramref name="from"/>: both ends are aligned down to that ring's bucket
    /// edges (the result says which range it covers). A range older than every ring is answered for the retained part.
    /// </summary>
    public EventTimeRangeCounts QueryEventTimeRange(DateTimeOffset from, DateTimeOffset to)
    {
        if (to < from)
        {
            throw new ArgumentException($"Range end {to:O} is before its start {from:O}.", nameof(to));
        }

        var now = RotateToNow();
        var toTicks = Math.Min(to.UtcTicks, now + 1);
        var fromTicks = Math.Min(from.UtcTicks, toTicks);
        var ring = _minutes.Retains(fromTicks, now) ? _minutes : _hours.Retains(fromTicks, now) ? _hours : _days;
        var first = Math.Max(ring.IndexOf(fromTicks), ring.OldestRetainedIndex(now));
        var endExclusive = ring.IndexOf(toTicks);
        var result = new ConfusionCounts(ClassCount);
        ring.SumInto(result, first, endExclusive - 1);
        var width = ring.WidthTicks;
        var coveredFrom = Math.Min(first, endExclusive) * width;
        return new EventTimeRangeCounts(result, new DateTimeOffset(coveredFrom, TimeSpan.Zero), new DateTimeOffset(endExclusive * width, TimeSpan.Zero));
    }

    /// <summary>
    /// A copy of the counts in a window ending now. Null = all time. Windows up to the minute ring's span use the
    /// last ceil(window / minute width) minute buckets including the current partial one; longer windows use the
    /// last ceil(window / hour width) hour buckets including the current one.
    /// </summary>
    public ConfusionCounts Query(TimeSpan? window)
    {
        if (window is not { } span)
        {
            return _allTime.Clone();
        }

        if (span <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(window), span, "Window must be positive.");
        }

        var now = RotateToNow();
        var result = new ConfusionCounts(ClassCount);
        if (span <= _minutes.Span)
        {
            var current = _minutes.IndexOf(now);
            _minutes.SumInto(result, current - _minutes.BucketsCovering(span.Ticks) + 1, current);
            return result;
        }

        var bucketsNeeded = _hours.BucketsCovering(span.Ticks);
        if (bucketsNeeded <= _options.HourBucketCount)
        {
            var currentHour = _hours.IndexOf(now);
            _hours.SumInto(result, currentHour - bucketsNeeded + 1, currentHour);
            return result;
        }

        var daysNeeded = _days.BucketsCovering(span.Ticks);
        if (daysNeeded > _options.DayBucketCount)
        {
            throw new ArgumentOutOfRangeException(
                nameof(window), span, $"Window exceeds the retained {_days.Span} of day buckets.");
        }

        var currentDay = _days.IndexOf(now);
        _days.SumInto(result, currentDay - daysNeeded + 1, currentDay);
        return result;
    }

    /// <summary>A copy of the hour buckets making up the rolling baseline (see <see cref="RollingWindowOptions.BaselineGap"/>).</summary>
    public ConfusionCounts RollingBaseline()
    {
        var now = RotateToNow();
        var (first, last) = BaselineRange(now);
        var result = new ConfusionCounts(ClassCount);
        _hours.SumInto(result, first, last);
        return result;
    }

    public RollingWindowsSnapshot ToSnapshot()
    {
        RotateToNow();
        var (minuteStarts, minuteCells) = _minutes.ToSnapshot();
        var (hourStarts, hourCells) = _hours.ToSnapshot();
        var (dayStarts, dayCells) = _days.ToSnapshot();
        return new RollingWindowsSnapshot(ClassCount, _allTime.ToInterleavedCells(), minuteStarts, minuteCells, hourStarts, hourCells, dayStarts, dayCells);
    }

    /// <summary>Restores state; stale buckets in the snapshot are dropped on the first rotation against <paramref name="clock"/>.</summary>
    public static RollingConfusionWindows FromSnapshot(RollingWindowsSnapshot snapshot, TimeProvider clock, RollingWindowOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        var windows = new RollingConfusionWindows(snapshot.ClassCount, clock, options);
        windows._allTime.Merge(ConfusionCounts.FromInterleavedCells(snapshot.ClassCount, snapshot.AllTimeCells));
        windows._minutes.Restore(snapshot.MinuteBucketStartsUtcTicks, snapshot.MinuteBucketCells, nameof(snapshot.MinuteBucketCells));
        windows._hours.Restore(snapshot.HourBucketStartsUtcTicks, snapshot.HourBucketCells, nameof(snapshot.HourBucketCells));
        if (snapshot.DayBucketStartsUtcTicks is { } dayStarts && snapshot.DayBucketCells is { } dayCells)
        {
            windows._days.Restore(dayStarts, dayCells, nameof(snapshot.DayBucketCells));
        }

        return windows;
    }

    private long RotateToNow()
    {
        var now = _clock.GetUtcNow().UtcTicks;
        _minutes.Rotate(now);
        _hours.Rotate(now);
        _days.Rotate(now);
        return now;
    }

    private (long First, long Last) BaselineRange(long nowTicks)
    {
        var end = Math.Max(0, nowTicks - _options.BaselineGap.Ticks);
        var endIndex = _hours.IndexOf(end);
        return (endIndex - _options.BaselineBucketCount, endIndex - 1);
    }

    private void RecordCell(int cell, long eventTicks, long nowTicks, int count = 1)
    {
        _allTime.AddToCell(cell, count);
        eventTicks = ClampToNow(eventTicks, nowTicks);
        if (eventTicks < 0)
        {
            return;
        }

        _minutes.TryAdd(cell, eventTicks, nowTicks, count);
        _hours.TryAdd(cell, eventTicks, nowTicks, count);
        _days.TryAdd(cell, eventTicks, nowTicks, count);
    }

    /// <summary>Event time as bucketed: up to the skew allowance ahead counts as now; further ahead is -1 (all-time only).</summary>
    private long ClampToNow(long eventTicks, long nowTicks) =>
        eventTicks <= nowTicks ? eventTicks
        : eventTicks - nowTicks > _options.MaxFutureSkew.Ticks ? -1
        : nowTicks;

    /// <summary>Fixed-size ring of buckets; slot = bucket index mod count, and the stored start tells whether the
    /// slot still holds the bucket a reader expects or a stale one from a previous lap.</summary>
    private sealed class BucketRing
    {
        private readonly int _classCount;
        private readonly long _width;
        private readonly long[] _starts;
        private readonly ConfusionCounts?[] _buckets;
        private long _rotatedIndex = long.MinValue;

        public BucketRing(int classCount, long widthTicks, int count)
        {
            _classCount = classCount;
            _width = widthTicks;
            _starts = new long[count];
            _buckets = new ConfusionCounts?[count];
            Array.Fill(_starts, UnusedSlot);
        }

        public TimeSpan Span => TimeSpan.FromTicks(_width * _starts.Length);

        public long EstimatedManagedBytes
        {
            get
            {
                var bytes = 48 + (2 * (24 + (8L * _starts.Length)));
                foreach (var bucket in _buckets)
                {
                    bytes += bucket?.EstimatedManagedBytes ?? 0;
                }

                return bytes;
            }
        }

        public long IndexOf(long ticks) => ticks / _width;

        public long WidthTicks => _width;

        public long OldestRetainedIndex(long nowTicks) => IndexOf(nowTicks) - _starts.Length + 1;

        public bool Retains(long eventTicks, long nowTicks) => IndexOf(eventTicks) >= OldestRetainedIndex(nowTicks);

        public long BucketsCovering(long windowTicks) => (windowTicks + _width - 1) / _width;

        /// <summary>Clears slots whose bucket is older than retention; only does work when the current bucket changes.</summary>
        public void Rotate(long nowTicks)
        {
            var current = IndexOf(nowTicks);
            if (current == _rotatedIndex)
            {
                return;
            }

            _rotatedIndex = current;
            var oldestRetainedStart = (current - _starts.Length + 1) * _width;
            for (var slot = 0; slot < _starts.Length; slot++)
            {
                if (_starts[slot] != UnusedSlot && _starts[slot] < oldestRetainedStart)
                {
                    ReleaseSlot(slot);
                }
            }
        }

        public void TryAdd(int cell, long eventTicks, long nowTicks, int count)
        {
            var current = IndexOf(nowTicks);
            var index = IndexOf(eventTicks);
            if (index > current || index <= current - _starts.Length)
            {
                return;
            }

            var slot = (int)(index % _starts.Length);
            var start = index * _width;
            if (_starts[slot] != start)
            {
                if (_starts[slot] > start)
                {
                    // The slot holds a newer bucket (the clock moved backwards); this event is beyond retention.
                    return;
                }

                ReleaseSlot(slot);
                _starts[slot] = start;
            }

            (_buckets[slot] ??= new ConfusionCounts(_classCount)).AddToCell(cell, count);
        }

        /// <summary>Takes one prediction back from the bucket of <paramref name="eventTicks"/> if that bucket holds it.</summary>
        public void TryRemove(int cell, long eventTicks, long nowTicks)
        {
            var index = IndexOf(eventTicks);
            if (index > IndexOf(nowTicks) || index < OldestRetainedIndex(nowTicks))
            {
                return;
            }

            var slot = (int)(index % _starts.Length);
            if (_starts[slot] == index * _width && _buckets[slot] is { } bucket)
            {
                bucket.TryRemoveOne(cell);
            }
        }

        public void SumInto(ConfusionCounts target, long firstIndex, long lastIndex)
        {
            for (var index = Math.Max(0, firstIndex); index <= lastIndex; index++)
            {
                var slot = (int)(index % _starts.Length);
                if (_starts[slot] == index * _width && _buckets[slot] is { } bucket)
                {
                    target.Merge(bucket);
                }
            }
        }

        public long Total(long firstIndex, long lastIndex)
        {
            long total = 0;
            for (var index = Math.Max(0, firstIndex); index <= lastIndex; index++)
            {
                var slot = (int)(index % _starts.Length);
                if (_starts[slot] == index * _width && _buckets[slot] is { } bucket)
                {
                    total += bucket.Total;
                }
            }

            return total;
        }

        public (long[] Starts, long[][] Cells) ToSnapshot()
        {
            var starts = (long[])_starts.Clone();
            var cells = new long[_starts.Length][];
            for (var slot = 0; slot < _starts.Length; slot++)
            {
                cells[slot] = _starts[slot] != UnusedSlot && _buckets[slot] is { } bucket ? bucket.ToInterleavedCells() : [];
            }

            return (starts, cells);
        }

        public void Restore(long[] starts, long[][] cells, string parameterName)
        {
            ArgumentNullException.ThrowIfNull(starts);
            ArgumentNullException.ThrowIfNull(cells);
            if (starts.Length != cells.Length)
            {
                throw new ArgumentException("Bucket starts and bucket cells must have the same length.", parameterName);
            }

            for (var i = 0; i < starts.Length; i++)
            {
                var start = starts[i];
                if (start == UnusedSlot)
                {
                    continue;
                }

                if (start < 0 || start % _width != 0)
                {
                    throw new ArgumentException($"Bucket start {start} is not aligned to the bucket width.", parameterName);
                }

                // Place by start rather than array position so a snapshot taken with a different ring size still restores.
                var index = start / _width;
                var slot = (int)(index % _starts.Length);
                if (_starts[slot] != UnusedSlot && _starts[slot] >= start)
                {
                    continue;
                }

                ReleaseSlot(slot);
                _starts[slot] = start;
                var restored = ConfusionCounts.FromInterleavedCells(_classCount, cells[i]);
                _buckets[slot] = restored.Total == 0 ? null : restored;
            }

            _rotatedIndex = long.MinValue;
        }

        /// <summary>Dense buckets are kept for reuse (no allocation churn); sparse ones are dropped so a burst of
        /// many distinct cells does not pin memory after it expires.</summary>
        private void ReleaseSlot(int slot)
        {
            _starts[slot] = UnusedSlot;
            if (_buckets[slot] is { } bucket)
            {
                if (bucket.IsSparse)
                {
                    _buckets[slot] = null;
                }
                else
                {
                    bucket.Clear();
                }
            }
        }
    }
}
