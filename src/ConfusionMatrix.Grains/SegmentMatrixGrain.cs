using ConfusionMatrix.Abstractions;
using ConfusionMatrix.Core;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ConfusionMatrix.Grains;

/// <summary>Persisted form of a segment matrix. Plain arrays, so the pure-math types stay free of Orleans.</summary>
[GenerateSerializer, Alias("cm.SegmentMatrixState")]
public sealed class SegmentMatrixState
{
    [Id(0)] public int ClassCount { get; set; }

    [Id(1)] public long[]? AllTimeCells { get; set; }

    [Id(2)] public long[]? MinuteBucketStartsUtcTicks { get; set; }

    [Id(3)] public long[][]? MinuteBucketCells { get; set; }

    [Id(4)] public long[]? HourBucketStartsUtcTicks { get; set; }

    [Id(5)] public long[][]? HourBucketCells { get; set; }

    [Id(6)] public SparseMatrix? Holdout { get; set; }

    [Id(7)] public DateTimeOffset? HoldoutSetAt { get; set; }

    [Id(8)] public long BatchesApplied { get; set; }

    /// <summary>Replay windows per producer, written in the same storage operation as the counts they guard.</summary>
    [Id(9)] public Dictionary<string, ProducerWatermark> Watermarks { get; set; } = new(StringComparer.Ordinal);

    [Id(10)] public long DuplicatesSkipped { get; set; }

    [Id(11)] public long[]? DayBucketStartsUtcTicks { get; set; }

    [Id(12)] public long[][]? DayBucketCells { get; set; }

    /// <summary>Predictions awaiting their label and expired unlabelled, by predicted class and event time.</summary>
    [Id(13)] public RollingSnapshotState? LabelStatus { get; set; }

    /// <summary>Label latency histogram by event time.</summary>
    [Id(14)] public RollingSnapshotState? LabelLatency { get; set; }
}

/// <summary>Persisted form of one <see cref="RollingWindowsSnapshot"/>.</summary>
[GenerateSerializer, Alias("cm.RollingSnapshotState")]
public sealed class RollingSnapshotState
{
    [Id(0)] public int ClassCount { get; set; }

    [Id(1)] public long[] AllTimeCells { get; set; } = [];

    [Id(2)] public long[] MinuteStarts { get; set; } = [];

    [Id(3)] public long[][] MinuteCells { get; set; } = [];

    [Id(4)] public long[] HourStarts { get; set; } = [];

    [Id(5)] public long[][] HourCells { get; set; } = [];

    [Id(6)] public long[] DayStarts { get; set; } = [];

    [Id(7)] public long[][] DayCells { get; set; } = [];

    public static RollingSnapshotState From(RollingWindowsSnapshot s) => new()
    {
        ClassCount = s.ClassCount,
        AllTimeCells = s.AllTimeCells,
        MinuteStarts = s.MinuteBucketStartsUtcTicks,
        MinuteCells = s.MinuteBucketCells,
        HourStarts = s.HourBucketStartsUtcTicks,
        HourCells = s.HourBucketCells,
        DayStarts = s.DayBucketStartsUtcTicks ?? [],
        DayCells = s.DayBucketCells ?? [],
    };

    public RollingWindowsSnapshot ToSnapshot() =>
        new(ClassCount, AllTimeCells, MinuteStarts, MinuteCells, HourStarts, HourCells, DayStarts, DayCells);
}

/// <summary>Persisted <see cref="ReplayWindow"/> of one producer, with when it was last heard from (for pruning).</summary>
[GenerateSerializer, Immutable, Alias("cm.ProducerWatermark")]
public sealed record ProducerWatermark(
    [property: Id(0)] long Highest,
    [property: Id(1)] ulong Seen,
    [property: Id(2)] DateTimeOffset LastSeen,
    [property: Id(3)] ulong[]? Older = null);

/// <summary>
/// The confusion matrix of one (model version, segment): all-time counts, bounded rolling windows and the baseline.
/// The state is written before <see cref="RecordAsync"/> returns, so whoever awaits it (the version router, and through
/// it the stream delivery) only sees success once the counts are stored.
/// </summary>
public sealed class SegmentMatrixGrain(
    [PersistentState("matrix", StorageNames.Matrices)] IPersistentState<SegmentMatrixState> state,
    ConfusionMatrixInstruments instruments,
    StorageHealth storageHealth,
    IOptions<SegmentMatrixOptions> options,
    ApplicationClock clock,
    ILogger<SegmentMatrixGrain> logger) : Grain, ISegmentMatrixGrain
{
    /// <summary>Producers remembered per segment; the least recently heard from go first beyond this.</summary>
    internal const int MaxProducers = 1024;

    /// <summary>A producer silent this long is forgotten (its replays would be older than any transport retains).</summary>
    internal static readonly TimeSpan ProducerRetention = TimeSpan.FromDays(7);

    /// <summary>The drift watcher hears about new evidence after this many predictions or this much time, whichever first.</summary>
    internal const long EvidenceNotifyPredictions = 500;
    internal static readonly TimeSpan EvidenceNotifyInterval = TimeSpan.FromSeconds(5);

    private RollingConfusionWindows? _windows;
    private LabelStatusWindows? _labelStatus;
    private long _unreported;
    private DateTimeOffset _lastNotified = DateTimeOffset.MinValue;

    /// <summary>Set when a write failed: memory may hold counts storage does not, so reload before anything else.</summary>
    private bool _mustReload;

    /// <summary>Counts applied but not yet written (only when writes are not made before each acknowledgement).</summary>
    private bool _unwritten;
    private string _model = "";
    private string _version = "";
    private string _segment = "";

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        (_model, _version, _segment) = Segments.ParseMatrixKey(this.GetPrimaryKeyString());
        RestoreWindows();
        if (!options.Value.WriteBeforeAcknowledge)
        {
            var interval = options.Value.CheckpointInterval;
            this.RegisterGrainTimer(CheckpointAsync, new GrainTimerCreationOptions(interval, interval) { KeepAlive = false });
        }

        return Task.CompletedTask;
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        if (_unwritten)
        {
            await PersistAsync();
        }
    }

    private async Task CheckpointAsync()
    {
        if (_unwritten)
        {
            await PersistAsync();
        }
    }

    private void RestoreWindows()
    {
        _windows = null;
        _labelStatus = null;
        var s = state.State;
        if (s.ClassCount > 0 && s.AllTimeCells is not null)
        {
            _windows = RollingConfusionWindows.FromSnapshot(
                new RollingWindowsSnapshot(
                    s.ClassCount,
                    s.AllTimeCells,
                    s.MinuteBucketStartsUtcTicks ?? [],
                    s.MinuteBucketCells ?? [],
                    s.HourBucketStartsUtcTicks ?? [],
                    s.HourBucketCells ?? [],
                    s.DayBucketStartsUtcTicks,
                    s.DayBucketCells),
                clock);
        }

        if (s.ClassCount > 0 && s.LabelStatus is { } status && s.LabelLatency is { } latency)
        {
            _labelStatus = LabelStatusWindows.FromSnapshot(new LabelStatusSnapshot(s.ClassCount, status.ToSnapshot(), latency.ToSnapshot()), clock);
        }

        ReleaseSnapshotArrays(s);
    }

    public async ValueTask RecordAsync(SegmentBatch batch)
    {
        await ReloadIfNeededAsync();
        if (batch.Cells.Length != batch.TimestampUtcTicks.Length)
        {
            throw new ArgumentException($"Batch {batch.BatchId}: {batch.Cells.Length} cells but {batch.TimestampUtcTicks.Length} timestamps.");
        }

        _windows ??= new RollingConfusionWindows(batch.ClassCount, clock);
        if (_windows.ClassCount != batch.ClassCount)
        {
            Log.ClassCountMismatch(logger, this.GetPrimaryKeyString(), _windows.ClassCount, batch.ClassCount, batch.BatchId);
            throw new InvalidOperationException($"Segment {this.GetPrimaryKeyString()} counts {_windows.ClassCount} classes; batch {batch.BatchId} has {batch.ClassCount}.");
        }

        var limit = batch.ClassCount * batch.ClassCount;
        foreach (var cell in batch.Cells)
        {
            if ((uint)cell >= (uint)limit)
            {
                throw new ArgumentException($"Batch {batch.BatchId}: cell {cell} is outside a {batch.ClassCount}x{batch.ClassCount} matrix.");
            }
        }

        var parts = batch.EffectiveParts;
        var partCells = 0;
        foreach (var part in parts)
        {
            partCells += part.Count < 0 ? throw new ArgumentException($"Batch {batch.BatchId}: a part has a negative count.") : part.Count;
        }

        if (partCells != batch.Cells.Length)
        {
            throw new ArgumentException($"Batch {batch.BatchId}: its parts cover {partCells} cells but it carries {batch.Cells.Length}.");
        }

        var now = clock.GetUtcNow();
        var applied = 0;
        var offset = 0;
        var newProducer = false;
        foreach (var part in parts)
        {
            var range = new Range(offset, offset + part.Count);
            offset += part.Count;
            if (part.ProducerId.Length > 0 && !TryMarkFirstDelivery(part.ProducerId, part.Sequence, now, ref newProducer))
            {
                continue;
            }

            _windows.RecordBatch(batch.Cells.AsSpan(range), batch.TimestampUtcTicks.AsSpan(range));
            applied++;
        }

        if (applied == 0)
        {
            return;
        }

        if (newProducer)
        {
            PruneProducers(now);
        }

        state.State.BatchesApplied += applied;
        if (options.Value.WriteBeforeAcknowledge)
        {
            await PersistAsync();
        }
        else
        {
            _unwritten = true;
        }

        instruments.SegmentBatchApplied();
        NotifyEvidence(batch.Cells.Length);
    }

    /// <summary>
    /// Replay check of one delivery (a batch part, or a label-join shard's deltas): true and remembered the first time
    /// its producer and sequence are seen, false (counted, logged) for a redelivery, replay or retried call.
    /// </summary>
    private bool TryMarkFirstDelivery(string producerId, long sequence, DateTimeOffset now, ref bool newProducer)
    {
        var window = state.State.Watermarks.TryGetValue(producerId, out var mark) ? new ReplayWindow(mark.Highest, mark.Seen, mark.Older) : default;
        var decision = window.Check(sequence);
        if (decision != ReplayDecision.Accept)
        {
            // Already counted: acknowledge without counting again.
            state.State.DuplicatesSkipped++;
            instruments.DuplicateSkipped(decision == ReplayDecision.TooOld ? "too_old" : "duplicate");
            Log.DuplicateBatchSkipped(logger, this.GetPrimaryKeyString(), $"{producerId}:{sequence}");
            return false;
        }

        window.Mark(sequence);
        newProducer |= mark is null;
        state.State.Watermarks[producerId] = new ProducerWatermark(window.Highest, window.Seen, now, window.Older);
        return true;
    }

    public async ValueTask ApplyLabelDeltasAsync(SegmentLabelDeltas deltas)
    {
        await ReloadIfNeededAsync();
        var n = deltas.Cells.Length;
        if (deltas.Kinds.Length != n || deltas.Deltas.Length != n || deltas.EventTimeUtcTicks.Length != n || deltas.LabelLatencyTicks.Length != n)
        {
            throw new ArgumentException($"Label deltas {deltas.ProducerId}:{deltas.Sequence}: column lengths differ.");
        }

        _windows ??= new RollingConfusionWindows(deltas.ClassCount, clock);
        if (_windows.ClassCount != deltas.ClassCount)
        {
            throw new InvalidOperationException($"Segment {this.GetPrimaryKeyString()} counts {_windows.ClassCount} classes; label deltas {deltas.ProducerId}:{deltas.Sequence} have {deltas.ClassCount}.");
        }

        var k = deltas.ClassCount;
        for (var i = 0; i < n; i++)
        {
            var limit = deltas.Kinds[i] == LabelDeltaKind.Labelled ? k * k : k;
            if ((uint)deltas.Cells[i] >= (uint)limit || deltas.Deltas[i] is not (1 or -1))
            {
                throw new ArgumentException($"Label deltas {deltas.ProducerId}:{deltas.Sequence}: entry {i} is out of range.");
            }
        }

        var now = clock.GetUtcNow();
        var newProducer = false;
        if (!TryMarkFirstDelivery(deltas.ProducerId, deltas.Sequence, now, ref newProducer))
        {
            return;
        }

        _labelStatus ??= new LabelStatusWindows(k, clock);
        var labelled = 0;
        for (var i = 0; i < n; i++)
        {
            var ticks = deltas.EventTimeUtcTicks[i];
            int delta = deltas.Deltas[i];
            switch (deltas.Kinds[i])
            {
                case LabelDeltaKind.Labelled:
                    _windows.ApplyDelta(deltas.Cells[i], ticks, delta);
                    labelled++;
                    if (delta > 0 && deltas.LabelLatencyTicks[i] >= 0)
                    {
                        _labelStatus.RecordLatency(deltas.LabelLatencyTicks[i], ticks);
                    }

                    break;
                case LabelDeltaKind.Pending:
                    _labelStatus.ApplyPending(deltas.Cells[i], ticks, delta);
                    break;
                default:
                    _labelStatus.ApplyExpired(deltas.Cells[i], ticks, delta);
                    break;
            }
        }

        if (newProducer)
        {
            PruneProducers(now);
        }

        state.State.BatchesApplied++;
        if (options.Value.WriteBeforeAcknowledge)
        {
            await PersistAsync();
        }
        else
        {
            _unwritten = true;
        }

        if (labelled > 0)
        {
            NotifyEvidence(labelled);
        }
    }

    public async ValueTask<MatrixView> GetMatrixAsync(TimeSpan? window)
    {
        await ReloadIfNeededAsync();
        var counts = _windows is null ? null : window is null ? _windows.AllTime : _windows.Query(window);
        long[]? pending = null, expired = null, latency = null;
        if (_labelStatus is not null)
        {
            (pending, expired, latency) = _labelStatus.Query(window);
        }

        return new MatrixView(
            _model,
            _version,
            _segment,
            WindowSpec.Format(window),
            ToSparse(counts),
            clock.GetUtcNow(),
            state.State.BatchesApplied,
            pending,
            expired,
            latency);
    }

    public async ValueTask<MatrixView> GetEventTimeRangeAsync(DateTimeOffset from, DateTimeOffset to)
    {
        await ReloadIfNeededAsync();
        if (_windows is null)
        {
            return new MatrixView(_model, _version, _segment, $"{from:O}/{to:O}", ToSparse(null), clock.GetUtcNow(), state.State.BatchesApplied);
        }

        var range = _windows.QueryEventTimeRange(from, to);
        return new MatrixView(_model, _version, _segment, $"{range.From:O}/{range.To:O}", ToSparse(range.Counts), clock.GetUtcNow(), state.State.BatchesApplied);
    }

    public async Task SetBaselineAsync(SparseMatrix baseline)
    {
        await ReloadIfNeededAsync();
        if (_windows is not null && baseline.ClassCount != _windows.ClassCount)
        {
            throw new ArgumentException($"Baseline is {baseline.ClassCount}x{baseline.ClassCount} but the segment counts {_windows.ClassCount} classes.");
        }

        state.State.Holdout = baseline;
        state.State.HoldoutSetAt = clock.GetUtcNow();
        await PersistAsync();
        Log.BaselineSet(logger, this.GetPrimaryKeyString(), baseline.Total);
    }

    public async Task ClearBaselineAsync()
    {
        await ReloadIfNeededAsync();
        state.State.Holdout = null;
        state.State.HoldoutSetAt = null;
        await PersistAsync();
    }

    public ValueTask<BaselineView> GetBaselineAsync()
    {
        if (state.State.Holdout is { } holdout)
        {
            return ValueTask.FromResult(new BaselineView(BaselineKind.Holdout, holdout, state.State.HoldoutSetAt));
        }

        if (_windows is not null && _windows.RollingBaselineTotal > 0)
        {
            return ValueTask.FromResult(new BaselineView(BaselineKind.Rolling, ToSparse(_windows.RollingBaseline()), null));
        }

        return ValueTask.FromResult(new BaselineView(BaselineKind.None, null, null));
    }

    private void NotifyEvidence(int predictions)
    {
        _unreported += predictions;
        var now = clock.GetUtcNow();
        if (_unreported < EvidenceNotifyPredictions && now - _lastNotified < EvidenceNotifyInterval)
        {
            return;
        }

        // One-way: the watcher pulls the counts when it evaluates, so ingestion never waits on drift evaluation.
        _ = GrainFactory.GetGrain<IDriftWatcherGrain>(_model).NotifyEvidenceAsync(_version, _segment, _unreported);
        _unreported = 0;
        _lastNotified = now;
    }

    internal static SparseMatrix ToSparse(ConfusionCounts? counts)
    {
        if (counts is null)
        {
            return new SparseMatrix(0, [], []);
        }

        var cells = new List<int>();
        var values = new List<long>();
        counts.CopyNonZeroCells(cells, values);
        return new SparseMatrix(counts.ClassCount, [.. cells], [.. values]);
    }

    private async Task PersistAsync()
    {
        var s = state.State;
        if (_windows is not null)
        {
            var snapshot = _windows.ToSnapshot();
            s.ClassCount = snapshot.ClassCount;
            s.AllTimeCells = snapshot.AllTimeCells;
            s.MinuteBucketStartsUtcTicks = snapshot.MinuteBucketStartsUtcTicks;
            s.MinuteBucketCells = snapshot.MinuteBucketCells;
            s.HourBucketStartsUtcTicks = snapshot.HourBucketStartsUtcTicks;
            s.HourBucketCells = snapshot.HourBucketCells;
            s.DayBucketStartsUtcTicks = snapshot.DayBucketStartsUtcTicks;
            s.DayBucketCells = snapshot.DayBucketCells;
        }

        if (_labelStatus is not null)
        {
            var status = _labelStatus.ToSnapshot();
            s.LabelStatus = RollingSnapshotState.From(status.Status);
            s.LabelLatency = RollingSnapshotState.From(status.Latency);
            s.ClassCount = _labelStatus.ClassCount;
        }

        try
        {
            await state.WriteStateAsync();
            storageHealth.Succeeded();
            _unwritten = false;
        }
        catch (Exception ex)
        {
            // Memory now holds counts (and a watermark) that storage does not. Reload before the next operation, so the
            // caller's retry of this batch is applied once, from what is stored.
            _mustReload = true;
            storageHealth.Failed(ex);
            throw;
        }
        finally
        {
            // The live windows are the source of truth between writes; holding the snapshot too would double memory.
            ReleaseSnapshotArrays(s);
        }
    }

    private async ValueTask ReloadIfNeededAsync()
    {
        if (!_mustReload)
        {
            return;
        }

        await state.ReadStateAsync();
        RestoreWindows();
        _mustReload = false;
    }

    private void PruneProducers(DateTimeOffset now)
    {
        // Called when a producer is first heard from: a full scan every 64 new producers, or when over the bound.
        var marks = state.State.Watermarks;
        if (marks.Count <= MaxProducers && marks.Count % 64 != 0)
        {
            return;
        }

        foreach (var (producer, mark) in marks.ToList())
        {
            if (now - mark.LastSeen > ProducerRetention)
            {
                marks.Remove(producer);
            }
        }

        if (marks.Count > MaxProducers)
        {
            foreach (var (producer, _) in marks.OrderBy(kv => kv.Value.LastSeen).Take(marks.Count - MaxProducers).ToList())
            {
                marks.Remove(producer);
            }
        }
    }

    private static void ReleaseSnapshotArrays(SegmentMatrixState s)
    {
        s.AllTimeCells = s.ClassCount > 0 ? [] : null;
        s.MinuteBucketStartsUtcTicks = null;
        s.MinuteBucketCells = null;
        s.HourBucketStartsUtcTicks = null;
        s.HourBucketCells = null;
        s.DayBucketStartsUtcTicks = null;
        s.DayBucketCells = null;
        s.LabelStatus = s.LabelStatus is null ? null : new RollingSnapshotState { ClassCount = s.LabelStatus.ClassCount };
        s.LabelLatency = s.LabelLatency is null ? null : new RollingSnapshotState { ClassCount = s.LabelLatency.ClassCount };
    }
}
