namespace ConfusionMatrix.Grains;

/// <summary>One segment's share of one batch: how many predictions fell in each (event-time bucket, cell).</summary>
internal sealed record SegmentShare(string Segment, long[] EventTimeUtcTicks, int[] Cells, int[] Counts);

/// <summary>
/// Turns the accepted rows of one batch into per-segment (event-time bucket, cell, count) entries. One instance per
/// thread, used synchronously: its buffers grow to the largest batch seen, so the per-row work allocates nothing; only
/// each segment's result (sized by its distinct entries, not its rows) is allocated.
/// </summary>
internal sealed class SegmentCountAggregator
{
    /// <summary>Above this many (value, bucket, cell) combinations a dictionary replaces the dense counter.</summary>
    private const int DenseLimit = 1 << 16;

    /// <summary>Distinct buckets looked up by linear scan up to this many, by dictionary beyond.</summary>
    private const int LinearBuckets = 8;

    [ThreadStatic]
    private static SegmentCountAggregator? _current;

    private readonly Dictionary<long, int> _bucketSlots = [];
    private readonly Dictionary<long, int> _sparse = [];
    private long[] _rowKeys = [];
    private long[] _bucketTicks = new long[LinearBuckets];
    private int[] _dense = [];
    private long[] _touched = new long[64];
    private int _touchedCount;
    private int _rows;
    private int _buckets;
    private long _cellsPerBucket;

    public static SegmentCountAggregator Current => _current ??= new SegmentCountAggregator();

    /// <summary>
    /// Keys every accepted row (cell &gt;= 0) by its bucket and cell. Times not after <paramref name="nowTicks"/> are
    /// rounded down to <paramref name="widthTicks"/>; later ones stay exact (see <see cref="ConfusionMatrix.Abstractions.SegmentCounts"/>).
    /// </summary>
    public void Begin(ReadOnlySpan<int> cells, ReadOnlySpan<long> ticks, int classCount, long nowTicks, long widthTicks)
    {
        _rows = cells.Length;
        if (_rowKeys.Length < _rows)
        {
            _rowKeys = new long[Math.Max(_rows, _rowKeys.Length * 2)];
        }

        _buckets = 0;
        _bucketSlots.Clear();
        _cellsPerBucket = (long)classCount * classCount;
        var lastTicks = long.MinValue;
        var lastSlot = -1;
        for (var i = 0; i < _rows; i++)
        {
            var cell = cells[i];
            if (cell < 0)
            {
                _rowKeys[i] = -1;
                continue;
            }

            var t = ticks[i];
            var bucket = t <= nowTicks ? t - (t % widthTicks) : t;
            if (bucket != lastTicks)
            {
                lastTicks = bucket;
                lastSlot = SlotOf(bucket);
            }

            _rowKeys[i] = (lastSlot * _cellsPerBucket) + cell;
        }
    }

    /// <summary>
    /// Aggregates the keyed rows per value: all of them as value 0 (<paramref name="valueIndex"/> null), or by their
    /// value in dimension <paramref name="d"/> of the row-major <paramref name="valueIndex"/> (negative = no value).
    /// Calls <paramref name="emit"/> once per value that has rows, in value order.
    /// </summary>
    public void Aggregate<TState>(int[]? valueIndex, int dims, int d, int valueCount, TState state, Action<TState, int, SegmentCountsEntries> emit)
    {
        var keySpace = _buckets * _cellsPerBucket;
        var dense = valueCount * keySpace <= DenseLimit;
        if (dense && _dense.Length < valueCount * keySpace)
        {
            _dense = new int[Math.Max((int)(valueCount * keySpace), Math.Min(DenseLimit, _dense.Length * 2))];
        }

        _touchedCount = 0;
        for (var i = 0; i < _rows; i++)
        {
            var key = _rowKeys[i];
            if (key < 0)
            {
                continue;
            }

            var value = valueIndex is null ? 0 : valueIndex[(i * dims) + d];
            if (value < 0)
            {
                continue;
            }

            var combined = (value * keySpace) + key;
            if (dense)
            {
                if (_dense[combined]++ == 0)
                {
                    Touch(combined);
                }
            }
            else
            {
                ref var count = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(_sparse, combined, out var existed);
                count++;
                if (!existed)
                {
                    Touch(combined);
                }
            }
        }

        var touched = _touched.AsSpan(0, _touchedCount);
        touched.Sort();
        var start = 0;
        while (start < touched.Length)
        {
            var value = (int)(touched[start] / keySpace);
            var end = start + 1;
            while (end < touched.Length && touched[end] / keySpace == value)
            {
                end++;
            }

            var entries = new SegmentCountsEntries(new long[end - start], new int[end - start], new int[end - start]);
            for (var j = start; j < end; j++)
            {
                var combined = touched[j];
                var key = combined - (value * keySpace);
                entries.EventTimeUtcTicks[j - start] = _bucketTicks[key / _cellsPerBucket];
                entries.Cells[j - start] = (int)(key % _cellsPerBucket);
                if (dense)
                {
                    entries.Counts[j - start] = _dense[combined];
                    _dense[combined] = 0;
                }
                else
                {
                    entries.Counts[j - start] = _sparse[combined];
                }
            }

            emit(state, value, entries);
            start = end;
        }

        _sparse.Clear();
    }

    private void Touch(long combined)
    {
        if (_touchedCount == _touched.Length)
        {
            Array.Resize(ref _touched, _touched.Length * 2);
        }

        _touched[_touchedCount++] = combined;
    }

    private int SlotOf(long bucket)
    {
        if (_buckets <= LinearBuckets)
        {
            for (var s = 0; s < _buckets; s++)
            {
                if (_bucketTicks[s] == bucket)
                {
                    return s;
                }
            }
        }
        else if (_bucketSlots.TryGetValue(bucket, out var known))
        {
            return known;
        }

        if (_buckets == _bucketTicks.Length)
        {
            Array.Resize(ref _bucketTicks, _bucketTicks.Length * 2);
        }

        var slot = _buckets++;
        _bucketTicks[slot] = bucket;
        if (_buckets > LinearBuckets)
        {
            if (_bucketSlots.Count == 0)
            {
                for (var s = 0; s < _buckets; s++)
                {
                    _bucketSlots[_bucketTicks[s]] = s;
                }
            }
            else
            {
                _bucketSlots[bucket] = slot;
            }
        }

        return slot;
    }
}

/// <summary>The (event-time bucket, cell, count) entries of one segment, column by column.</summary>
internal readonly record struct SegmentCountsEntries(long[] EventTimeUtcTicks, int[] Cells, int[] Counts);
