using ConfusionMatrix.Abstractions;
using ConfusionMatrix.Core;
using Microsoft.Extensions.Logging;

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
}

/// <summary>
/// The confusion matrix of one (model version, segment): all-time counts, bounded rolling windows and the baseline.
/// The state is written before <see cref="RecordAsync"/> returns, so whoever awaits it (the version router, and through
/// it the stream delivery) only sees success once the counts are stored.
/// </summary>
public sealed class SegmentMatrixGrain(
    [PersistentState("matrix", StorageNames.Matrices)] IPersistentState<SegmentMatrixState> state,
    ConfusionMatrixInstruments instruments,
    ApplicationClock clock,
    ILogger<SegmentMatrixGrain> logger) : Grain, ISegmentMatrixGrain
{
    /// <summary>The drift watcher hears about new evidence after this many predictions or this much time, whichever first.</summary>
    internal const long EvidenceNotifyPredictions = 500;
    internal static readonly TimeSpan EvidenceNotifyInterval = TimeSpan.FromSeconds(5);

    private RollingConfusionWindows? _windows;
    private long _unreported;
    private DateTimeOffset _lastNotified = DateTimeOffset.MinValue;
    private string _model = "";
    private string _version = "";
    private string _segment = "";

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        (_model, _version, _segment) = Segments.ParseMatrixKey(this.GetPrimaryKeyString());
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
                    s.HourBucketCells ?? []),
                clock);
            ReleaseSnapshotArrays(s);
        }

        return Task.CompletedTask;
    }

    public async ValueTask RecordAsync(SegmentBatch batch)
    {
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

        _windows.RecordBatch(batch.Cells, batch.TimestampUtcTicks);
        state.State.BatchesApplied++;
        await PersistAsync();
        instruments.SegmentBatchApplied();
        NotifyEvidence(batch.Cells.Length);
    }

    public ValueTask<MatrixView> GetMatrixAsync(TimeSpan? window)
    {
        var counts = _windows is null ? null : window is null ? _windows.AllTime : _windows.Query(window);
        return ValueTask.FromResult(new MatrixView(
            _model,
            _version,
            _segment,
            WindowSpec.Format(window),
            ToSparse(counts),
            clock.GetUtcNow(),
            state.State.BatchesApplied));
    }

    public async Task SetBaselineAsync(SparseMatrix baseline)
    {
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
        }

        try
        {
            await state.WriteStateAsync();
        }
        catch
        {
            // Memory now holds counts that storage does not. Drop this activation so the next one reloads what is stored,
            // and let the caller's retry apply the batch again: otherwise the retry would count it twice.
            DeactivateOnIdle();
            throw;
        }
        finally
        {
            // The live windows are the source of truth between writes; holding the snapshot too would double memory.
            ReleaseSnapshotArrays(s);
        }
    }

    private static void ReleaseSnapshotArrays(SegmentMatrixState s)
    {
        s.AllTimeCells = s.ClassCount > 0 ? [] : null;
        s.MinuteBucketStartsUtcTicks = null;
        s.MinuteBucketCells = null;
        s.HourBucketStartsUtcTicks = null;
        s.HourBucketCells = null;
    }
}
