namespace ConfusionMatrix.Client;

/// <summary>
/// Hands cut batches to the sink, one batch in flight per stream and in sequence order, each through
/// <see cref="SinkRetry"/>. Tracks, per stream, the last batch cut and the last resolved (sent or refused), so a flush
/// can wait for everything cut before it; at shutdown it counts what was never resolved.
/// </summary>
internal sealed class BatchSender(SinkRetry retry, Action<SinkBatch, bool> resolved, CancellationToken abort)
{
    private readonly object _gate = new();
    private readonly Dictionary<(string Model, string Version), Lane> _lanes = [];
    private bool _finalized;

    /// <summary>Queues a batch behind the earlier batches of its stream and starts the stream's sender if it is idle.</summary>
    public void Enqueue(SinkBatch batch)
    {
        lock (_gate)
        {
            if (!_lanes.TryGetValue((batch.Model, batch.Version), out var lane))
            {
                lane = new Lane(batch.Model);
                _lanes.Add((batch.Model, batch.Version), lane);
            }

            lane.Queued.Enqueue(batch);
            lane.LastQueued = batch.Sequence;
            if (!lane.Sending)
            {
                lane.Sending = true;
                lane.Sender = Task.Run(() => SendLoopAsync(lane));
            }
        }
    }

    /// <summary>Completes when every batch queued so far is resolved: true, or false when shutdown dropped some.</summary>
    public Task<bool> WhenQueuedResolved()
    {
        List<Task<bool>>? waits = null;
        lock (_gate)
        {
            foreach (var lane in _lanes.Values)
            {
                if (lane.Resolved < lane.LastQueued)
                {
                    var waiter = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
                    lane.Waiters.Add((lane.LastQueued, waiter));
                    (waits ??= []).Add(waiter.Task);
                }
            }
        }

        return waits is null ? Task.FromResult(true) : AllAsync(waits);

        static async Task<bool> AllAsync(List<Task<bool>> waits) => (await Task.WhenAll(waits).ConfigureAwait(false)).All(ok => ok);
    }

    /// <summary>Waits until every stream's sender is idle (all queued batches resolved), or the abort token fires.</summary>
    public async Task WaitForIdleAsync()
    {
        while (true)
        {
            Task[] senders;
            lock (_gate)
            {
                senders = [.. _lanes.Values.Where(l => l.Sending).Select(l => l.Sender!)];
            }

            if (senders.Length == 0)
            {
                return;
            }

            await Task.WhenAll(senders).WaitAsync(abort).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Shutdown: stops resolving, fails waiting flushes, and adds the predictions of every unresolved batch per model
    /// to <paramref name="byModel"/>. A send still in flight then no longer counts its batch (it is counted here).
    /// </summary>
    public void Finalize(Dictionary<string, long> byModel)
    {
        lock (_gate)
        {
            _finalized = true;
            foreach (var lane in _lanes.Values)
            {
                long n = 0;
                foreach (var b in lane.Queued)
                {
                    n += b.Count;
                }

                lane.Queued.Clear();
                foreach (var w in lane.Waiters)
                {
                    w.Done.TrySetResult(false);
                }

                lane.Waiters.Clear();
                if (n > 0)
                {
                    byModel[lane.Model] = byModel.GetValueOrDefault(lane.Model) + n;
                }
            }
        }
    }

    private async Task SendLoopAsync(Lane lane)
    {
        try
        {
            while (true)
            {
                SinkBatch batch;
                lock (_gate)
                {
                    if (lane.Queued.Count == 0 || _finalized)
                    {
                        lane.Sending = false;
                        return;
                    }

                    batch = lane.Queued.Peek();
                }

                var delivered = await retry.DeliverAsync(batch, abort).ConfigureAwait(false);
                lock (_gate)
                {
                    if (_finalized)
                    {
                        // Finalize already counted this batch as dropped; do not count it twice.
                        return;
                    }

                    lane.Queued.Dequeue();
                    lane.Resolved = batch.Sequence;
                    lane.Waiters.RemoveAll(w =>
                    {
                        if (w.Sequence > lane.Resolved)
                        {
                            return false;
                        }

                        w.Done.TrySetResult(true);
                        return true;
                    });
                }

                resolved(batch, delivered);
            }
        }
        catch (OperationCanceledException) when (abort.IsCancellationRequested)
        {
            // Shutdown gave up; Finalize counts this stream's unsent batches.
        }
    }

    /// <summary>One stream's queue of cut batches; guarded by the gate.</summary>
    private sealed class Lane(string model)
    {
        public string Model { get; } = model;

        public Queue<SinkBatch> Queued { get; } = new();

        /// <summary>Sequence of the last batch queued (a cut of a numbered replay may skip numbers).</summary>
        public long LastQueued { get; set; }

        public long Resolved { get; set; }

        public bool Sending { get; set; }

        public Task? Sender { get; set; }

        public List<(long Sequence, TaskCompletionSource<bool> Done)> Waiters { get; } = [];
    }
}
