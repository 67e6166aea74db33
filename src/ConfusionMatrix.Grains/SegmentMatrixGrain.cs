using ConfusionMatrix.Abstractions;
using ConfusionMatrix.Core;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Concurrency;

namespace ConfusionMatrix.Grains;

/// <summary>
/// The confusion matrix of one (model version, segment): all-time counts, bounded rolling windows and the baseline.
/// With durable storage a delivery is acknowledged only after a write containing it succeeded, so whoever awaits it
/// (the version router, and through it the stream delivery) only sees success once the counts are stored. Writes are
/// group commits: deliveries arriving while a write is in flight are applied in memory and share the next write.
/// </summary>
/// <remarks>
/// Reentrant, so that deliveries can join a write in flight. Safe because every change is made synchronously between
/// awaits, and a write persists a state object captured from the live fields when it starts, never touched afterwards.
/// The live fields are the one copy of the state between writes (<see cref="GroupCommitWriter{TState}"/>); when they
/// are written is the <see cref="SegmentCheckpointing"/> chosen from <see cref="SegmentMatrixOptions"/>.
/// </remarks>
[Reentrant]
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
    private Dictionary<string, ProducerWatermark> _watermarks = new(StringComparer.Ordinal);
    private long _batchesApplied;
    private long _duplicatesSkipped;
    private long _stateWrites;
    private SparseMatrix? _holdout;
    private DateTimeOffset? _holdoutSetAt;
    private long _unreported;
    private DateTimeOffset _lastNotified = DateTimeOffset.MinValue;

    private GroupCommitWriter<SegmentMatrixState> _writer = null!;
    private SegmentCheckpointing _checkpointing = null!;
    private string _model = "";
    private string _version = "";
    private string _segment = "";

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        // First, so that a deactivation after a failed activation finds them.
        _writer = new GroupCommitWriter<SegmentMatrixState>(state, CaptureState, RestoreState, () => _stateWrites++, storageHealth);
        _checkpointing = SegmentCheckpointing.Create(options.Value, _writer);
        (_model, _version, var segment) = Segments.ParseMatrixKey(this.GetPrimaryKeyString());

        // Keys are composed from a SegmentKey (router, label join, API, drift watcher); one that does not parse is a bug.
        _segment = SegmentKey.Parse(segment).ToString();
        _writer.Restore();
        _checkpointing.Start(this);
        return Task.CompletedTask;
    }

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken) => _checkpointing.FlushAsync();

    /// <summary>Loads the live fields from a stored state, which becomes theirs (its watermark dictionary included).</summary>
    private void RestoreState(SegmentMatrixState s)
    {
        _windows = null;
        _labelStatus = null;
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

        _watermarks = s.Watermarks ?? new(StringComparer.Ordinal);
        _batchesApplied = s.BatchesApplied;
        _duplicatesSkipped = s.DuplicatesSkipped;
        _stateWrites = s.StateWrites;
        _holdout = s.Holdout;
        _holdoutSetAt = s.HoldoutSetAt;
    }

    /// <summary>Builds the state to write from the live fields, sharing nothing that later changes mutate.</summary>
    private SegmentMatrixState CaptureState()
    {
        var s = new SegmentMatrixState
        {
            BatchesApplied = _batchesApplied,
            DuplicatesSkipped = _duplicatesSkipped,
            Holdout = _holdout,
            HoldoutSetAt = _holdoutSetAt,
            Watermarks = new Dictionary<string, ProducerWatermark>(_watermarks, StringComparer.Ordinal),
            StateWrites = _stateWrites + 1,
        };

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

        return s;
    }

    public async ValueTask RecordAsync(SegmentBatch batch)
    {
        await _writer.ReloadIfNeededAsync();
        if (batch.Cells.Length != batch.TimestampUtcTicks.Length)
        {
            throw new ArgumentException($"Batch {batch.BatchId}: {batch.Cells.Length} cells but {batch.TimestampUtcTicks.Length} timestamps.");
        }

        var windows = WindowsFor(batch.ClassCount, batch.BatchId);
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

            windows.RecordBatch(batch.Cells.AsSpan(range), batch.TimestampUtcTicks.AsSpan(range));
            applied++;
        }

        await CompleteDeliveryAsync(applied, newProducer, now, batch.Cells.Length);
    }

    public async ValueTask RecordCountsAsync(SegmentCounts counts)
    {
        await _writer.ReloadIfNeededAsync();
        var n = counts.Cells.Length;
        if (counts.EventTimeUtcTicks.Length != n || counts.Counts.Length != n)
        {
            throw new ArgumentException($"Counts {counts.BatchId}: {n} cells, {counts.EventTimeUtcTicks.Length} times and {counts.Counts.Length} counts.");
        }

        var windows = WindowsFor(counts.ClassCount, counts.BatchId);
        if (counts.BucketWidthTicks <= 0 || windows.EventTimeResolutionTicks % counts.BucketWidthTicks != 0)
        {
            // Times rounded coarser than the finest bucket would move predictions between buckets.
            throw new ArgumentException($"Counts {counts.BatchId}: event times rounded to {counts.BucketWidthTicks} ticks, which does not divide the segment's {windows.EventTimeResolutionTicks}.");
        }

        // Everything is checked before anything is applied, so a refused delivery leaves no watermark behind.
        var limit = counts.ClassCount * counts.ClassCount;
        for (var i = 0; i < n; i++)
        {
            if ((uint)counts.Cells[i] >= (uint)limit || counts.Counts[i] <= 0 || (ulong)counts.EventTimeUtcTicks[i] > (ulong)DateTime.MaxValue.Ticks)
            {
                throw new ArgumentException($"Counts {counts.BatchId}: entry {i} (cell {counts.Cells[i]}, count {counts.Counts[i]}, time {counts.EventTimeUtcTicks[i]}) is out of range for a {counts.ClassCount}x{counts.ClassCount} matrix.");
            }
        }

        var parts = counts.Parts.IsDefault ? [] : counts.Parts;
        var entries = 0;
        foreach (var part in parts)
        {
            entries += part.Entries < 0 ? throw new ArgumentException($"Counts {counts.BatchId}: a part has a negative entry count.") : part.Entries;
        }

        if (entries != n)
        {
            throw new ArgumentException($"Counts {counts.BatchId}: its parts cover {entries} entries but it carries {n}.");
        }

        var now = clock.GetUtcNow();
        var applied = 0;
        long predictions = 0;
        var offset = 0;
        var newProducer = false;
        foreach (var part in parts)
        {
            var range = new Range(offset, offset + part.Entries);
            offset += part.Entries;
            if (part.ProducerId.Length > 0 && !TryMarkFirstDelivery(part.ProducerId, part.Sequence, now, ref newProducer))
            {
                continue;
            }

            var partCounts = counts.Counts.AsSpan(range);
            windows.RecordCounts(counts.Cells.AsSpan(range), counts.EventTimeUtcTicks.AsSpan(range), partCounts);
            foreach (var count in partCounts)
            {
                predictions += count;
            }

            applied++;
        }

        await CompleteDeliveryAsync(applied, newProducer, now, (int)Math.Min(predictions, int.MaxValue));
    }

    private RollingConfusionWindows WindowsFor(int classCount, string batchId)
    {
        _windows ??= new RollingConfusionWindows(classCount, clock);
        if (_windows.ClassCount != classCount)
        {
            Log.ClassCountMismatch(logger, this.GetPrimaryKeyString(), _windows.ClassCount, classCount, batchId);
            throw new InvalidOperationException($"Segment {this.GetPrimaryKeyString()} counts {_windows.ClassCount} classes; batch {batchId} has {classCount}.");
        }

        return _windows;
    }

    /// <summary>After a delivery's parts were applied in memory: stores them (or leaves them to the checkpoint) and reports.</summary>
    private async ValueTask CompleteDeliveryAsync(int appliedParts, bool newProducer, DateTimeOffset now, int predictions)
    {
        if (appliedParts == 0)
        {
            return;
        }

        if (newProducer)
        {
            PruneProducers(now);
        }

        _batchesApplied += appliedParts;
        await _checkpointing.ChangedAsync();

        instruments.SegmentBatchApplied();
        NotifyEvidence(predictions);
    }

    /// <summary>
    /// Replay check of one delivery (a batch part, or a label-join shard's deltas): true and remembered the first time
    /// its producer and sequence are seen, false (counted, logged) for a redelivery, replay or retried call.
    /// </summary>
    private bool TryMarkFirstDelivery(string producerId, long sequence, DateTimeOffset now, ref bool newProducer)
    {
        var window = _watermarks.TryGetValue(producerId, out var mark) ? new ReplayWindow(mark.Highest, mark.Seen, mark.Older) : default;
        var decision = window.Check(sequence);
        if (decision != ReplayDecision.Accept)
        {
            // Already counted: acknowledge without counting again.
            _duplicatesSkipped++;
            instruments.DuplicateSkipped(decision == ReplayDecision.TooOld ? "too_old" : "duplicate");
            Log.DuplicateBatchSkipped(logger, this.GetPrimaryKeyString(), $"{producerId}:{sequence}");
            return false;
        }

        window.Mark(sequence);
        newProducer |= mark is null;
        _watermarks[producerId] = new ProducerWatermark(window.Highest, window.Seen, now, window.Older);
        return true;
    }

    public async ValueTask ApplyLabelDeltasAsync(SegmentLabelDeltas deltas)
    {
        await _writer.ReloadIfNeededAsync();
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

        _batchesApplied++;
        await _checkpointing.ChangedAsync();

        if (labelled > 0)
        {
            NotifyEvidence(labelled);
        }
    }

    public async ValueTask<MatrixView> GetMatrixAsync(TimeSpan? window)
    {
        await _writer.ReloadIfNeededAsync();
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
            WireMapping.ToSparse(counts),
            clock.GetUtcNow(),
            _batchesApplied,
            pending,
            expired,
            latency);
    }

    public async ValueTask<MatrixView> GetEventTimeRangeAsync(DateTimeOffset from, DateTimeOffset to)
    {
        await _writer.ReloadIfNeededAsync();
        if (_windows is null)
        {
            return new MatrixView(_model, _version, _segment, $"{from:O}/{to:O}", WireMapping.ToSparse(counts: null), clock.GetUtcNow(), _batchesApplied);
        }

        var range = _windows.QueryEventTimeRange(from, to);
        return new MatrixView(_model, _version, _segment, $"{range.From:O}/{range.To:O}", WireMapping.ToSparse(range.Counts), clock.GetUtcNow(), _batchesApplied);
    }

    public async Task SetBaselineAsync(SparseMatrix baseline)
    {
        await _writer.ReloadIfNeededAsync();
        if (_windows is not null && baseline.ClassCount != _windows.ClassCount)
        {
            throw new ArgumentException($"Baseline is {baseline.ClassCount}x{baseline.ClassCount} but the segment counts {_windows.ClassCount} classes.");
        }

        _holdout = baseline;
        _holdoutSetAt = clock.GetUtcNow();

        // A baseline is an operator's decision: stored before the call returns, whichever checkpointing ingestion uses.
        await _writer.CommitAsync();
        Log.BaselineSet(logger, this.GetPrimaryKeyString(), baseline.Total);
    }

    public async Task ClearBaselineAsync()
    {
        await _writer.ReloadIfNeededAsync();
        _holdout = null;
        _holdoutSetAt = null;
        await _writer.CommitAsync();
    }

    public ValueTask<BaselineView> GetBaselineAsync()
    {
        if (_holdout is { } holdout)
        {
            return ValueTask.FromResult(new BaselineView(BaselineKind.Holdout, holdout, _holdoutSetAt));
        }

        if (_windows is not null && _windows.RollingBaselineTotal > 0)
        {
            return ValueTask.FromResult(new BaselineView(BaselineKind.Rolling, WireMapping.ToSparse(_windows.RollingBaseline()), null));
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

    private void PruneProducers(DateTimeOffset now)
    {
        // Called when a producer is first heard from: a full scan every 64 new producers, or when over the bound.
        var marks = _watermarks;
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
}
