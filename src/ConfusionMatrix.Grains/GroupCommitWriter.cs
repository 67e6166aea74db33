namespace ConfusionMatrix.Grains;

/// <summary>
/// Durable writing for a reentrant grain whose live fields are the one copy of its state between writes. A write
/// persists a state object captured from the live fields when it starts; callers arriving while it is in flight share
/// the next write (group commit). A failed write makes the next operation reload the live fields from storage.
/// </summary>
/// <remarks>
/// Safe under reentrancy because every change is made synchronously between awaits and a captured state object is never
/// touched after its capture. When to write is the caller's decision; this class only knows how.
/// </remarks>
/// <param name="state">The grain's persistent state; it holds <see cref="BetweenWrites"/> except while a write runs.</param>
/// <param name="capture">Builds a new state object from the live fields, sharing nothing the live fields will mutate.</param>
/// <param name="restore">Loads the live fields from a stored state object, which becomes theirs.</param>
/// <param name="written">Called after each successful write.</param>
internal sealed class GroupCommitWriter<TState>(
    IPersistentState<TState> state,
    Func<TState> capture,
    Action<TState> restore,
    Action written,
    StorageHealth storageHealth)
    where TState : class, new()
{
    /// <summary>
    /// What the persistent state holds between writes: one shared instance that nothing mutates (every write assigns a
    /// state captured for it, and a restore never hands it out), so that an idle grain keeps no second copy of its state.
    /// </summary>
    private static readonly TState BetweenWrites = new();

    /// <summary>Set when a write failed: memory may hold changes storage does not, so reload before anything else.</summary>
    private bool _mustReload;
    private Task? _reloading;

    /// <summary>True while the write loop runs; callers then wait in <see cref="_nextWrite"/>.</summary>
    private bool _writing;

    /// <summary>Completed by the write that will contain everything applied since the write in flight started.</summary>
    private TaskCompletionSource? _nextWrite;

    /// <summary>Changes applied since the last write started.</summary>
    public bool HasUnwritten { get; private set; }

    /// <summary>Records that the live fields changed, for <see cref="FlushAsync"/> to write.</summary>
    public void MarkChanged() => HasUnwritten = true;

    /// <summary>Loads the live fields from what storage holds (as read on activation or reload), then drops the read copy.</summary>
    public void Restore()
    {
        // A read that found nothing may leave the shared instance in place: nothing of it may become the live fields'.
        restore(ReferenceEquals(state.State, BetweenWrites) ? new TState() : state.State);
        HasUnwritten = false;
        state.State = BetweenWrites;
    }

    /// <summary>
    /// Completes once a write that started after this call (so contains everything applied before it) succeeded; fails
    /// if that write failed. One write is in flight at a time; every caller arriving meanwhile shares the next one.
    /// </summary>
    public Task CommitAsync()
    {
        var group = _nextWrite ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!_writing)
        {
            _ = RunWritesAsync();
        }

        return group.Task;
    }

    /// <summary>Writes whatever changed since the last write started, after the reload a failed write left due.</summary>
    public async Task FlushAsync()
    {
        await ReloadIfNeededAsync();
        if (HasUnwritten)
        {
            await CommitAsync();
        }
    }

    /// <summary>Awaited before every operation: after a failed write, reloads; callers arriving meanwhile share one reload.</summary>
    public ValueTask ReloadIfNeededAsync()
    {
        if (!_mustReload)
        {
            return ValueTask.CompletedTask;
        }

        if (_reloading is null || _reloading.IsCompleted)
        {
            _reloading = ReloadAsync();
        }

        return new ValueTask(_reloading);
    }

    private async Task ReloadAsync()
    {
        await state.ReadStateAsync();
        Restore();
        _mustReload = false;
    }

    private async Task RunWritesAsync()
    {
        _writing = true;
        try
        {
            while (_nextWrite is { } group)
            {
                _nextWrite = null;
                try
                {
                    await WriteAsync();
                    group.SetResult();
                }
                catch (Exception ex)
                {
                    group.SetException(ex);

                    // What was applied after this write started is in memory only, and memory is reloaded from storage
                    // before the next operation: those callers fail too, and their senders retry them.
                    if (_nextWrite is { } later)
                    {
                        _nextWrite = null;
                        later.SetException(ex);
                    }
                }
            }
        }
        finally
        {
            _writing = false;
        }
    }

    /// <summary>Writes a state object captured from the live fields now; later changes go to the live fields only.</summary>
    private async Task WriteAsync()
    {
        var captured = capture();
        HasUnwritten = false;
        state.State = captured;
        try
        {
            await state.WriteStateAsync();
            written();
            storageHealth.Succeeded();
        }
        catch (Exception ex)
        {
            // Memory now holds changes (replay windows included) that storage may not. Reload before the next operation,
            // so the senders' retries are applied once, from what is stored.
            _mustReload = true;
            storageHealth.Failed(ex);
            throw;
        }
        finally
        {
            // The live fields are the source of truth between writes; holding the written copy too would double memory.
            state.State = BetweenWrites;
        }
    }
}
