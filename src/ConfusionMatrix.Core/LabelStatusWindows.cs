namespace ConfusionMatrix.Core;

/// <summary>Plain-array state of <see cref="LabelStatusWindows"/>: two rolling snapshots.</summary>
public sealed record LabelStatusSnapshot(int ClassCount, RollingWindowsSnapshot Status, RollingWindowsSnapshot Latency);

/// <summary>
/// What a segment knows about predictions that are not (yet) in its labelled matrix, by event time and over the same
/// windows as the matrix: predictions awaiting their label and predictions whose label never came (both by predicted
/// class), and how long labels took to arrive (a fixed histogram). Together with the labelled matrix this gives label
/// coverage and the predicted-class distribution of every prediction, labelled or not.
/// </summary>
/// <remarks>
/// Stored in two <see cref="RollingConfusionWindows"/>, so that windows, rotation, retention and persistence are the
/// ones the matrix already has: the status one uses row 0 for pending and row 1 for expired (cell = row * K + class),
/// the latency one numbers its cells by latency bucket. Not thread-safe; owned by one grain.
/// </remarks>
public sealed class LabelStatusWindows
{
    /// <summary>Upper edges of the label-latency buckets: minutes to a quarter; the last bucket is everything longer.</summary>
    public static readonly TimeSpan[] LatencyBucketUpperBounds =
    [
        TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(5), TimeSpan.FromMinutes(15), TimeSpan.FromMinutes(30),
        TimeSpan.FromHours(1), TimeSpan.FromHours(2), TimeSpan.FromHours(6), TimeSpan.FromHours(12),
        TimeSpan.FromDays(1), TimeSpan.FromDays(3), TimeSpan.FromDays(7), TimeSpan.FromDays(14),
        TimeSpan.FromDays(30), TimeSpan.FromDays(90),
    ];

    /// <summary>Latency buckets including the open-ended last one.</summary>
    public static int LatencyBucketCount => LatencyBucketUpperBounds.Length + 1;

    private const int PendingRow = 0;
    private const int ExpiredRow = 1;

    // 4 x 4 = 16 cells hold the 15 latency buckets.
    private const int LatencyMatrixSide = 4;

    private readonly int _classCount;
    private readonly int _statusSide;
    private readonly RollingConfusionWindows _status;
    private readonly RollingConfusionWindows _latency;

    public LabelStatusWindows(int classCount, TimeProvider clock, RollingWindowOptions? options = null)
        : this(classCount, new RollingConfusionWindows(Math.Max(classCount, 2), clock, options), new RollingConfusionWindows(LatencyMatrixSide, clock, options))
    {
    }

    private LabelStatusWindows(int classCount, RollingConfusionWindows status, RollingConfusionWindows latency)
    {
        _classCount = classCount;
        _statusSide = status.ClassCount;
        _status = status;
        _latency = latency;
    }

    public int ClassCount => _classCount;

    public long EstimatedManagedBytes => 48 + _status.EstimatedManagedBytes + _latency.EstimatedManagedBytes;

    /// <summary>Bucket of a label latency; negative latencies (label stamped before the prediction) count as zero.</summary>
    public static int LatencyBucketOf(long latencyTicks)
    {
        for (var i = 0; i < LatencyBucketUpperBounds.Length; i++)
        {
            if (latencyTicks <= LatencyBucketUpperBounds[i].Ticks)
            {
                return i;
            }
        }

        return LatencyBucketUpperBounds.Length;
    }

    /// <summary>+1 or -1 prediction awaiting its label, of <paramref name="predicted"/> class, at its event time.</summary>
    public bool ApplyPending(int predicted, long eventTimeUtcTicks, int delta) =>
        _status.ApplyDelta(StatusCell(PendingRow, predicted), eventTimeUtcTicks, delta);

    /// <summary>+1 or -1 prediction whose label never came, of <paramref name="predicted"/> class, at its event time.</summary>
    public bool ApplyExpired(int predicted, long eventTimeUtcTicks, int delta) =>
        _status.ApplyDelta(StatusCell(ExpiredRow, predicted), eventTimeUtcTicks, delta);

    /// <summary>A first label arrived <paramref name="latencyTicks"/> after its prediction's event time.</summary>
    public void RecordLatency(long latencyTicks, long eventTimeUtcTicks) =>
        _latency.ApplyDelta(LatencyBucketOf(latencyTicks), eventTimeUtcTicks, 1);

    /// <summary>Pending and expired counts per predicted class, and the latency histogram, for a window (null = all time).</summary>
    public (long[] Pending, long[] Expired, long[] LatencyHistogram) Query(TimeSpan? window)
    {
        var status = _status.Query(window);
        var pending = new long[_classCount];
        var expired = new long[_classCount];
        for (var c = 0; c < _classCount; c++)
        {
            pending[c] = status[PendingRow, c];
            expired[c] = status[ExpiredRow, c];
        }

        var latency = _latency.Query(window);
        var histogram = new long[LatencyBucketCount];
        for (var b = 0; b < histogram.Length; b++)
        {
            histogram[b] = latency[b / LatencyMatrixSide, b % LatencyMatrixSide];
        }

        return (pending, expired, histogram);
    }

    /// <summary>
    /// The q-quantile (0..1) of a latency histogram, interpolated linearly inside its bucket; the open last bucket
    /// answers its lower edge. Null when the histogram is empty.
    /// </summary>
    public static TimeSpan? LatencyQuantile(ReadOnlySpan<long> histogram, double q)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(q, 0.0);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(q, 1.0);
        long total = 0;
        foreach (var count in histogram)
        {
            total += count;
        }

        if (total == 0)
        {
            return null;
        }

        var rank = q * total;
        long cumulative = 0;
        for (var b = 0; b < histogram.Length; b++)
        {
            if (histogram[b] == 0)
            {
                continue;
            }

            var lower = b == 0 ? 0L : LatencyBucketUpperBounds[b - 1].Ticks;
            if (b >= LatencyBucketUpperBounds.Length)
            {
                return TimeSpan.FromTicks(lower);
            }

            if (cumulative + histogram[b] >= rank)
            {
                var upper = LatencyBucketUpperBounds[b].Ticks;
                var fraction = (rank - cumulative) / histogram[b];
                return TimeSpan.FromTicks(lower + (long)((upper - lower) * fraction));
            }

            cumulative += histogram[b];
        }

        return TimeSpan.FromTicks(LatencyBucketUpperBounds[^1].Ticks);
    }

    public LabelStatusSnapshot ToSnapshot() => new(_classCount, _status.ToSnapshot(), _latency.ToSnapshot());

    public static LabelStatusWindows FromSnapshot(LabelStatusSnapshot snapshot, TimeProvider clock, RollingWindowOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        return new LabelStatusWindows(
            snapshot.ClassCount,
            RollingConfusionWindows.FromSnapshot(snapshot.Status, clock, options),
            RollingConfusionWindows.FromSnapshot(snapshot.Latency, clock, options));
    }

    private int StatusCell(int row, int predicted)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)predicted, (uint)_classCount, nameof(predicted));
        return (row * _statusSide) + predicted;
    }
}
