using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ConfusionMatrix.Client;

/// <summary>
/// Logs predictions from the inference hot path without blocking it. <see cref="TryLog"/> and <see cref="LogAsync"/>
/// validate and append to a bounded in-memory buffer; a background loop groups predictions by stream
/// (<c>{model}/{version}</c>), cuts batches by size and by age, numbers each batch with this logger's producer id and
/// the stream's next sequence, and hands them to an <see cref="IPredictionSink"/> one batch in flight per stream.
/// Failed sends are retried forever with exponential backoff and full jitter, always as the same batch (same producer
/// id and sequence), so the silo can recognise a replay. Nothing is lost silently: every prediction ends up sent,
/// rejected or dropped, and each of those is counted.
/// </summary>
public sealed class PredictionLogger : IAsyncDisposable
{
    /// <summary>How many queued items the loop takes before it checks batch ages again.</summary>
    private const int DrainChunk = 4096;

    private readonly IPredictionSink _sink;
    private readonly PredictionClientMetrics _metrics;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly int _batchSize;
    private readonly TimeSpan _batchInterval;
    private readonly int _maxBuffered;
    private readonly TimeSpan _retryBase;
    private readonly TimeSpan _retryMax;
    private readonly TimeSpan _drainTimeout;
    private readonly Channel<Item> _channel = Channel.CreateUnbounded<Item>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Dictionary<(string Model, string Version), StreamState> _streams = [];
    private readonly object _gate = new();
    private readonly CancellationTokenSource _abort = new();
    private readonly IDisposable _gauge;
    private readonly Task _loop;
    private TaskCompletionSource _space = NewSignal();
    private long _buffered;
    private long _sequenceFloor;
    private volatile bool _closed;
    private bool _finalized;
    private int _bufferFullLogged;
    private Task? _disposal;

    public PredictionLogger(
        IPredictionSink sink,
        IOptions<PredictionLoggerOptions> options,
        PredictionClientMetrics metrics,
        ILogger<PredictionLogger> logger,
        TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(sink);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(metrics);
        ArgumentNullException.ThrowIfNull(logger);
        var o = options.Value;
        PredictionLoggerOptionsValidator.ThrowIfInvalid(o);
        _sink = sink;
        _metrics = metrics;
        _logger = logger;
        _time = timeProvider ?? TimeProvider.System;
        _batchSize = o.BatchSize;
        _batchInterval = o.BatchInterval;
        _maxBuffered = o.MaxBufferedPredictions;
        _retryBase = o.RetryBaseDelay;
        _retryMax = o.RetryMaxDelay;
        _drainTimeout = o.DrainTimeout;
        ProducerId = o.ProducerId ?? $"{o.ServiceName}-{Environment.MachineName}-{Guid.NewGuid():N}";
        _gauge = metrics.RegisterBuffered(() => Volatile.Read(ref _buffered));
        Log.Started(_logger, ProducerId, _batchSize, _batchInterval.TotalMilliseconds, _maxBuffered);
        _loop = Task.Run(RunAsync);
    }

    /// <summary>This logger's producer id; unique per instance unless fixed through the options.</summary>
    public string ProducerId { get; }

    /// <summary>Predictions accepted but not yet acknowledged by the sink (queued, in flight or awaiting retry).</summary>
    public long BufferedCount => Volatile.Read(ref _buffered);

    /// <summary>
    /// Never blocks. Returns false when the prediction is invalid (counted as rejected), or when the buffer is full or
    /// the logger is closed (counted as dropped with the reason).
    /// </summary>
    public bool TryLog(Prediction prediction)
    {
        if (!Prepare(ref prediction, out var loggedAt))
        {
            return false;
        }

        if (_closed)
        {
            _metrics.Dropped(PredictionClientMetrics.DropReasons.Closed, prediction.Model, 1);
            return false;
        }

        if (!TryReserve())
        {
            _metrics.Dropped(PredictionClientMetrics.DropReasons.BufferFull, prediction.Model, 1);
            if (Interlocked.Exchange(ref _bufferFullLogged, 1) == 0)
            {
                Log.BufferFull(_logger, _maxBuffered);
            }

            return false;
        }

        return Enqueue(prediction, loggedAt);
    }

    /// <summary>
    /// Like <see cref="TryLog"/>, but when the buffer is full it waits for space instead of dropping (backpressure).
    /// Completes synchronously when there is space. Returns false when the prediction is invalid (counted as rejected)
    /// or the logger closed (counted as dropped).
    /// </summary>
    public ValueTask<bool> LogAsync(Prediction prediction, CancellationToken cancellationToken = default)
    {
        if (!Prepare(ref prediction, out var loggedAt))
        {
            return ValueTask.FromResult(false);
        }

        return _closed || !TryReserve() ? LogSlowAsync(prediction, loggedAt, cancellationToken) : ValueTask.FromResult(Enqueue(prediction, loggedAt));
    }

    /// <summary>Cuts every open batch now and waits until all predictions logged before this call are resolved.</summary>
    public async Task FlushAsync(CancellationToken cancellationToken = default)
    {
        var request = new FlushRequest();
        if (!_channel.Writer.TryWrite(new Item(null, 0, request)))
        {
            await _loop.WaitAsync(cancellationToken).ConfigureAwait(false);
            return;
        }

        await request.Done.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// For replaying a numbered log, such as a backfill from a file: cuts every open batch now, without waiting for
    /// delivery, and numbers the next batch of every stream (also streams not seen yet) at least
    /// <paramref name="nextSequence"/>. With a fixed <see cref="PredictionLoggerOptions.ProducerId"/> and cuts at fixed
    /// positions of the log, a resumed replay sends the same batches under the same sequence numbers, and the silo skips
    /// those it has already counted. Returns false when the logger is closed.
    /// </summary>
    public bool CutBatches(long nextSequence)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(nextSequence, 1);
        return _channel.Writer.TryWrite(new Item(null, 0, null, nextSequence));
    }

    /// <summary>Like <see cref="FlushAsync(CancellationToken)"/> with a time limit; true when everything was sent in time.</summary>
    public async Task<bool> FlushAsync(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var request = new FlushRequest();
        try
        {
            if (!_channel.Writer.TryWrite(new Item(null, 0, request)))
            {
                await _loop.WaitAsync(timeout, _time, cancellationToken).ConfigureAwait(false);
                return BufferedCount == 0;
            }

            return await request.Done.Task.WaitAsync(timeout, _time, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            return false;
        }
    }

    /// <summary>
    /// Stops accepting predictions, sends everything buffered, and waits up to the drain timeout. What is still unsent
    /// then is dropped and counted with reason <c>shutdown</c>.
    /// </summary>
    public ValueTask DisposeAsync()
    {
        lock (_gate)
        {
            _disposal ??= DisposeCoreAsync();
            return new ValueTask(_disposal);
        }
    }

    private async Task DisposeCoreAsync()
    {
        _closed = true;
        _channel.Writer.TryComplete();
        SignalSpace();
        var drained = true;
        try
        {
            await _loop.WaitAsync(_drainTimeout, _time).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            drained = false;
        }

        if (!drained)
        {
            await _abort.CancelAsync().ConfigureAwait(false);
            await _loop.ConfigureAwait(false);
        }

        var leftover = Finalize();
        if (leftover > 0)
        {
            Log.DrainTimedOut(_logger, ProducerId, _drainTimeout.TotalMilliseconds, leftover);
        }
        else
        {
            Log.Stopped(_logger, ProducerId);
        }

        _gauge.Dispose();
    }

    private bool Prepare(ref Prediction prediction, out long loggedAt)
    {
        var now = _time.GetUtcNow();
        loggedAt = _time.GetTimestamp();
        var reason = PredictionValidator.Validate(prediction, now);
        if (reason is not null)
        {
            _metrics.Rejected(reason, "client", 1);
            Log.Rejected(_logger, prediction?.PredictionId ?? "-", reason);
            return false;
        }

        if (prediction.Timestamp is null)
        {
            prediction = prediction with { Timestamp = now };
        }

        return true;
    }

    private async ValueTask<bool> LogSlowAsync(Prediction prediction, long loggedAt, CancellationToken cancellationToken)
    {
        while (true)
        {
            // Read the signal before trying, so a release between the try and the wait still wakes us.
            var space = Volatile.Read(ref _space).Task;
            if (_closed)
            {
                _metrics.Dropped(PredictionClientMetrics.DropReasons.Closed, prediction.Model, 1);
                return false;
            }

            if (TryReserve())
            {
                return Enqueue(prediction, loggedAt);
            }

            await space.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private bool TryReserve()
    {
        if (Interlocked.Increment(ref _buffered) <= _maxBuffered)
        {
            return true;
        }

        Interlocked.Decrement(ref _buffered);
        return false;
    }

    private bool Enqueue(Prediction prediction, long loggedAt)
    {
        if (_channel.Writer.TryWrite(new Item(prediction, loggedAt, null)))
        {
            return true;
        }

        Release(1);
        _metrics.Dropped(PredictionClientMetrics.DropReasons.Closed, prediction.Model, 1);
        return false;
    }

    private void Release(int predictions)
    {
        Interlocked.Add(ref _buffered, -predictions);
        Volatile.Write(ref _bufferFullLogged, 0);
        SignalSpace();
    }

    private void SignalSpace() => Interlocked.Exchange(ref _space, NewSignal()).TrySetResult();

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private async Task RunAsync()
    {
        var reader = _channel.Reader;
        Task<bool>? pendingRead = null;
        try
        {
            while (true)
            {
                var taken = 0;
                while (taken < DrainChunk && reader.TryRead(out var item))
                {
                    Handle(item);
                    taken++;
                }

                SealExpired();
                if (taken == DrainChunk)
                {
                    continue;
                }

                if (reader.Completion.IsCompleted)
                {
                    break;
                }

                pendingRead ??= reader.WaitToReadAsync(_abort.Token).AsTask();
                var remaining = TimeUntilNextCut();
                if (remaining is { } wait)
                {
                    using var cancelDelay = CancellationTokenSource.CreateLinkedTokenSource(_abort.Token);
                    var delay = Task.Delay(wait, _time, cancelDelay.Token);
                    await Task.WhenAny(pendingRead, delay).ConfigureAwait(false);
                    await cancelDelay.CancelAsync().ConfigureAwait(false);
                    _abort.Token.ThrowIfCancellationRequested();
                }
                else
                {
                    await pendingRead.ConfigureAwait(false);
                }

                if (pendingRead.IsCompleted)
                {
                    await pendingRead.ConfigureAwait(false);
                    pendingRead = null;
                }
            }

            // Closed: cut what is left and wait for every stream's sender to finish.
            SealAll();
            await WaitForSendersAsync().ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (_abort.IsCancellationRequested)
        {
            // Disposal gave up waiting; it counts what is left.
        }
        catch (Exception ex)
        {
            // A bug here must not lose predictions silently: stop taking new ones; disposal counts what is left.
            Log.LoopFailed(_logger, ex, ProducerId);
            _closed = true;
            _channel.Writer.TryComplete();
            SignalSpace();
        }
    }

    private void Handle(Item item)
    {
        if (item.Flush is { } flush)
        {
            HandleFlush(flush);
            return;
        }

        if (item.NextSequence > 0)
        {
            HandleCut(item.NextSequence);
            return;
        }

        var p = item.Prediction!;
        var key = (p.Model, p.Version);
        if (!_streams.TryGetValue(key, out var s))
        {
            // Streams are never forgotten: a stream's sequence must keep increasing for the life of the producer id.
            s = new StreamState(p.Model, p.Version) { LastSequence = _sequenceFloor };
            _streams.Add(key, s);
        }

        if (s.Open is null)
        {
            s.Open = new List<Prediction>(Math.Min(_batchSize, 1024));
            s.OpenedAt = item.LoggedAt;
        }

        s.Open.Add(p);
        if (s.Open.Count >= _batchSize)
        {
            Seal(s);
        }
    }

    private void HandleFlush(FlushRequest flush)
    {
        SealAll();
        List<Task<bool>>? waits = null;
        lock (_gate)
        {
            foreach (var s in _streams.Values)
            {
                if (s.Resolved < s.LastSealed)
                {
                    var waiter = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
                    s.Waiters.Add((s.LastSealed, waiter));
                    (waits ??= []).Add(waiter.Task);
                }
            }
        }

        if (waits is null)
        {
            flush.Done.TrySetResult(true);
            return;
        }

        _ = Task.WhenAll(waits).ContinueWith(
            t => flush.Done.TrySetResult(t.Result.All(ok => ok)),
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
    }

    private void HandleCut(long nextSequence)
    {
        SealAll();
        _sequenceFloor = Math.Max(_sequenceFloor, nextSequence - 1);
        foreach (var s in _streams.Values)
        {
            s.LastSequence = Math.Max(s.LastSequence, _sequenceFloor);
        }
    }

    private void SealExpired()
    {
        foreach (var s in _streams.Values)
        {
            if (s.Open is not null && _time.GetElapsedTime(s.OpenedAt) >= _batchInterval)
            {
                Seal(s);
            }
        }
    }

    private void SealAll()
    {
        foreach (var s in _streams.Values)
        {
            if (s.Open is not null)
            {
                Seal(s);
            }
        }
    }

    private TimeSpan? TimeUntilNextCut()
    {
        TimeSpan? next = null;
        foreach (var s in _streams.Values)
        {
            if (s.Open is not null)
            {
                var left = _batchInterval - _time.GetElapsedTime(s.OpenedAt);
                if (left < TimeSpan.Zero)
                {
                    left = TimeSpan.Zero;
                }

                if (next is null || left < next)
                {
                    next = left;
                }
            }
        }

        return next;
    }

    private void Seal(StreamState s)
    {
        // Numbered at the cut, in order; the per-stream queue hands batches to the sink in that same order.
        var batch = new SinkBatch(s.Model, s.Version, ProducerId, ++s.LastSequence, s.Open!);
        s.Open = null;
        lock (_gate)
        {
            s.Sealed.Enqueue(batch);
            s.LastSealed = batch.Sequence;
            if (!s.Sending)
            {
                s.Sending = true;
                s.Sender = Task.Run(() => SendLoopAsync(s));
            }
        }
    }

    private async Task WaitForSendersAsync()
    {
        while (true)
        {
            Task[] senders;
            lock (_gate)
            {
                senders = [.. _streams.Values.Where(s => s.Sending).Select(s => s.Sender!)];
            }

            if (senders.Length == 0)
            {
                return;
            }

            await Task.WhenAll(senders).WaitAsync(_abort.Token).ConfigureAwait(false);
        }
    }

    private async Task SendLoopAsync(StreamState s)
    {
        try
        {
            while (true)
            {
                SinkBatch batch;
                lock (_gate)
                {
                    if (s.Sealed.Count == 0 || _finalized)
                    {
                        s.Sending = false;
                        return;
                    }

                    batch = s.Sealed.Peek();
                }

                var delivered = await DeliverAsync(batch).ConfigureAwait(false);
                lock (_gate)
                {
                    if (_finalized)
                    {
                        // Disposal already counted this batch as dropped; do not count it twice.
                        return;
                    }

                    s.Sealed.Dequeue();
                    s.Resolved = batch.Sequence;
                    s.Waiters.RemoveAll(w =>
                    {
                        if (w.Sequence > s.Resolved)
                        {
                            return false;
                        }

                        w.Done.TrySetResult(true);
                        return true;
                    });
                }

                if (delivered)
                {
                    _metrics.Sent(batch.Model, batch.Count);
                }
                else
                {
                    _metrics.Dropped(PredictionClientMetrics.DropReasons.SinkRejected, batch.Model, batch.Count);
                }

                Release(batch.Count);
            }
        }
        catch (OperationCanceledException) when (_abort.IsCancellationRequested)
        {
            // Disposal timed out; it counts this stream's unsent batches.
        }
    }

    private async Task<bool> DeliverAsync(SinkBatch batch)
    {
        var token = _abort.Token;
        for (var attempt = 1; ; attempt++)
        {
            batch.Attempt = attempt;
            try
            {
                await _sink.SendAsync(batch, token).ConfigureAwait(false);
                if (attempt > 1)
                {
                    Log.SendRecovered(_logger, batch.ProducerId, batch.Sequence, batch.StreamKey, attempt);
                }

                return true;
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                throw;
            }
            catch (NonRetryableSinkException ex)
            {
                Log.SinkRejected(_logger, ex, batch.ProducerId, batch.Sequence, batch.StreamKey, batch.Count);
                return false;
            }
            catch (Exception ex)
            {
                var delay = Backoff(attempt);
                _metrics.Retry(batch.Model);
                Log.SendFailed(_logger, ex, batch.ProducerId, batch.Sequence, batch.Count, batch.StreamKey, attempt, delay.TotalMilliseconds);
                await Task.Delay(delay, _time, token).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Exponential backoff with full jitter: uniform in [0, min(max, base * 2^(attempt-1))].</summary>
    internal TimeSpan Backoff(int attempt)
    {
        var ceiling = Math.Min(_retryMax.TotalMilliseconds, _retryBase.TotalMilliseconds * Math.Pow(2, Math.Min(attempt - 1, 30)));
        return TimeSpan.FromMilliseconds(Random.Shared.NextDouble() * ceiling);
    }

    /// <summary>After the loop ended: counts and releases whatever was never resolved, and fails outstanding flushes.</summary>
    private long Finalize()
    {
        var byModel = new Dictionary<string, long>(StringComparer.Ordinal);
        List<FlushRequest>? flushes = null;
        lock (_gate)
        {
            _finalized = true;
            foreach (var s in _streams.Values)
            {
                var n = (long)(s.Open?.Count ?? 0);
                foreach (var b in s.Sealed)
                {
                    n += b.Count;
                }

                s.Open = null;
                s.Sealed.Clear();
                foreach (var w in s.Waiters)
                {
                    w.Done.TrySetResult(false);
                }

                s.Waiters.Clear();
                if (n > 0)
                {
                    byModel[s.Model] = byModel.GetValueOrDefault(s.Model) + n;
                }
            }

            while (_channel.Reader.TryRead(out var item))
            {
                if (item.Flush is { } f)
                {
                    (flushes ??= []).Add(f);
                }
                else if (item.Prediction is { } p)
                {
                    byModel[p.Model] = byModel.GetValueOrDefault(p.Model) + 1;
                }
            }
        }

        foreach (var f in flushes ?? [])
        {
            f.Done.TrySetResult(false);
        }

        long total = 0;
        foreach (var (model, n) in byModel)
        {
            _metrics.Dropped(PredictionClientMetrics.DropReasons.Shutdown, model, n);
            total += n;
        }

        if (total > 0)
        {
            Interlocked.Add(ref _buffered, -total);
        }

        return total;
    }

    /// <summary>A prediction, a flush request, or (NextSequence &gt; 0) a cut of a numbered replay.</summary>
    private readonly record struct Item(Prediction? Prediction, long LoggedAt, FlushRequest? Flush, long NextSequence = 0);

    private sealed class FlushRequest
    {
        public TaskCompletionSource<bool> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    /// <summary>One stream's batching state. Open and LastSequence belong to the loop; the rest is guarded by the gate.</summary>
    private sealed class StreamState(string model, string version)
    {
        public string Model { get; } = model;

        public string Version { get; } = version;

        public List<Prediction>? Open { get; set; }

        public long OpenedAt { get; set; }

        public long LastSequence { get; set; }

        /// <summary>Sequence of the last sealed batch (LastSequence may run ahead of it after a cut).</summary>
        public long LastSealed { get; set; }

        public long Resolved { get; set; }

        public Queue<SinkBatch> Sealed { get; } = new();

        public bool Sending { get; set; }

        public Task? Sender { get; set; }

        public List<(long Sequence, TaskCompletionSource<bool> Done)> Waiters { get; } = [];
    }
}
