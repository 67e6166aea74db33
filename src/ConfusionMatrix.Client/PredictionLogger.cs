using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ConfusionMatrix.Client;

/// <summary>
/// Logs predictions from the inference hot path without blocking it. <see cref="TryLog"/> and <see cref="LogAsync"/>
/// validate and append to a bounded in-memory buffer (<see cref="PredictionBuffer"/>); a background loop hands them to
/// the <see cref="StreamBatcher"/>, which groups them by stream (<c>{model}/{version}</c>), cuts batches by size and by
/// age and numbers each with this logger's producer id and the stream's next sequence; the <see cref="BatchSender"/>
/// sends them one batch in flight per stream, through <see cref="SinkRetry"/>: retried forever with exponential backoff
/// and full jitter, always as the same batch, so the silo can recognise a replay. Nothing is lost silently: every
/// prediction ends up sent, rejected or dropped, and each of those is counted.
/// </summary>
public sealed class PredictionLogger : IAsyncDisposable
{
    /// <summary>How many queued items the loop takes before it checks batch ages again.</summary>
    private const int DrainChunk = 4096;

    private readonly PredictionClientMetrics _metrics;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly TimeSpan _drainTimeout;
    private readonly Channel<Item> _channel = Channel.CreateUnbounded<Item>(new UnboundedChannelOptions { SingleReader = true });
    private readonly PredictionBuffer _buffer;
    private readonly StreamBatcher _batcher;
    private readonly SinkRetry _retry;
    private readonly BatchSender _sender;
    private readonly object _gate = new();
    private readonly CancellationTokenSource _abort = new();
    private readonly IDisposable _gauge;
    private readonly Task _loop;
    private volatile bool _closed;
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
        _metrics = metrics;
        _logger = logger;
        _time = timeProvider ?? TimeProvider.System;
        _drainTimeout = o.DrainTimeout;
        ProducerId = o.ProducerId ?? $"{o.ServiceName}-{Environment.MachineName}-{Guid.NewGuid():N}";
        _buffer = new PredictionBuffer(o.MaxBufferedPredictions);
        _retry = new SinkRetry(sink, o.RetryBaseDelay, o.RetryMaxDelay, metrics, logger, _time);
        _sender = new BatchSender(_retry, Resolved, _abort.Token);
        _batcher = new StreamBatcher(ProducerId, o.BatchSize, o.BatchInterval, _time, _sender.Enqueue);
        _gauge = metrics.RegisterBuffered(() => _buffer.Count);
        Log.Started(_logger, ProducerId, o.BatchSize, o.BatchInterval.TotalMilliseconds, o.MaxBufferedPredictions);
        _loop = Task.Run(RunAsync);
    }

    /// <summary>This logger's producer id; unique per instance unless fixed through the options.</summary>
    public string ProducerId { get; }

    /// <summary>Predictions accepted but not yet acknowledged by the sink (queued, in flight or awaiting retry).</summary>
    public long BufferedCount => _buffer.Count;

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

        if (!_buffer.TryReserve())
        {
            _metrics.Dropped(PredictionClientMetrics.DropReasons.BufferFull, prediction.Model, 1);
            if (_buffer.FirstFullSinceRelease())
            {
                Log.BufferFull(_logger, _buffer.Capacity);
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

        return _closed || !_buffer.TryReserve() ? LogSlowAsync(prediction, loggedAt, cancellationToken) : ValueTask.FromResult(Enqueue(prediction, loggedAt));
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

    /// <summary>Exponential backoff with full jitter of the retries: uniform in [0, min(max, base * 2^(attempt-1))].</summary>
    internal TimeSpan Backoff(int attempt) => _retry.Backoff(attempt);

    private async Task DisposeCoreAsync()
    {
        _closed = true;
        _channel.Writer.TryComplete();
        _buffer.WakeWaiters();
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
            var space = _buffer.SpaceReleased;
            if (_closed)
            {
                _metrics.Dropped(PredictionClientMetrics.DropReasons.Closed, prediction.Model, 1);
                return false;
            }

            if (_buffer.TryReserve())
            {
                return Enqueue(prediction, loggedAt);
            }

            await space.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private bool Enqueue(Prediction prediction, long loggedAt)
    {
        if (_channel.Writer.TryWrite(new Item(prediction, loggedAt, null)))
        {
            return true;
        }

        _buffer.Release(1);
        _metrics.Dropped(PredictionClientMetrics.DropReasons.Closed, prediction.Model, 1);
        return false;
    }

    /// <summary>A batch left the sender: sent, or refused for good by the sink.</summary>
    private void Resolved(SinkBatch batch, bool delivered)
    {
        if (delivered)
        {
            _metrics.Sent(batch.Model, batch.Count);
        }
        else
        {
            _metrics.Dropped(PredictionClientMetrics.DropReasons.SinkRejected, batch.Model, batch.Count);
        }

        _buffer.Release(batch.Count);
    }

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

                _batcher.CutExpired();
                if (taken == DrainChunk)
                {
                    continue;
                }

                if (reader.Completion.IsCompleted)
                {
                    break;
                }

                pendingRead ??= reader.WaitToReadAsync(_abort.Token).AsTask();
                var remaining = _batcher.TimeUntilNextCut();
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
            _batcher.CutAll();
            await _sender.WaitForIdleAsync().ConfigureAwait(false);
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
            _buffer.WakeWaiters();
        }
    }

    private void Handle(Item item)
    {
        if (item.Flush is { } flush)
        {
            _batcher.CutAll();
            _ = CompleteFlushAsync(flush, _sender.WhenQueuedResolved());
        }
        else if (item.NextSequence > 0)
        {
            _batcher.CutAllAndSkipTo(item.NextSequence);
        }
        else
        {
            _batcher.Add(item.Prediction!, item.LoggedAt);
        }
    }

    private static async Task CompleteFlushAsync(FlushRequest flush, Task<bool> resolved) =>
        flush.Done.TrySetResult(await resolved.ConfigureAwait(false));

    /// <summary>After the loop ended: counts and releases whatever was never resolved, and fails outstanding flushes.</summary>
    private long Finalize()
    {
        var byModel = new Dictionary<string, long>(StringComparer.Ordinal);
        _sender.Finalize(byModel);
        _batcher.DiscardOpen(byModel);
        while (_channel.Reader.TryRead(out var item))
        {
            if (item.Flush is { } f)
            {
                f.Done.TrySetResult(false);
            }
            else if (item.Prediction is { } p)
            {
                byModel[p.Model] = byModel.GetValueOrDefault(p.Model) + 1;
            }
        }

        long total = 0;
        foreach (var (model, n) in byModel)
        {
            _metrics.Dropped(PredictionClientMetrics.DropReasons.Shutdown, model, n);
            total += n;
        }

        if (total > 0)
        {
            _buffer.Release(total);
        }

        return total;
    }

    /// <summary>A prediction, a flush request, or (NextSequence &gt; 0) a cut of a numbered replay.</summary>
    private readonly record struct Item(Prediction? Prediction, long LoggedAt, FlushRequest? Flush, long NextSequence = 0);

    private sealed class FlushRequest
    {
        public TaskCompletionSource<bool> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
