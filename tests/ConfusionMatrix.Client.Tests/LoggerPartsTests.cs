using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using static ConfusionMatrix.Client.Tests.Support;

namespace ConfusionMatrix.Client.Tests;

/// <summary>The batcher on its own: cuts by size and by age, numbers per stream, skips ahead for a numbered replay.</summary>
public sealed class StreamBatcherTests
{
    private readonly FakeTimeProvider _time = new(Start);
    private readonly List<SinkBatch> _cut = [];

    [Fact]
    public void FullBatch_IsCut_AndEachStreamIsNumberedOnItsOwn()
    {
        var batcher = new StreamBatcher("p", batchSize: 2, TimeSpan.FromSeconds(1), _time, _cut.Add);
        batcher.Add(P(0), _time.GetTimestamp());
        batcher.Add(P(1, version: "v2"), _time.GetTimestamp());
        Assert.Empty(_cut);
        batcher.Add(P(2), _time.GetTimestamp());
        batcher.Add(P(3), _time.GetTimestamp());
        batcher.Add(P(4), _time.GetTimestamp());
        batcher.Add(P(5, version: "v2"), _time.GetTimestamp());

        Assert.Equal([("m/v1", 1L, 2), ("m/v1", 2L, 2), ("m/v2", 1L, 2)], _cut.Select(b => (b.StreamKey, b.Sequence, b.Count)));
        Assert.Equal(["id-0", "id-2"], _cut[0].Predictions.Select(p => p.PredictionId));
        Assert.All(_cut, b => Assert.Equal("p", b.ProducerId));
    }

    [Fact]
    public void OldEnoughBatch_IsCut_HoweverSmall()
    {
        var batcher = new StreamBatcher("p", batchSize: 100, TimeSpan.FromMilliseconds(200), _time, _cut.Add);
        Assert.Null(batcher.TimeUntilNextCut());
        batcher.Add(P(0), _time.GetTimestamp());
        _time.Advance(TimeSpan.FromMilliseconds(150));
        Assert.Equal(TimeSpan.FromMilliseconds(50), batcher.TimeUntilNextCut());
        batcher.CutExpired();
        Assert.Empty(_cut);

        _time.Advance(TimeSpan.FromMilliseconds(50));
        batcher.CutExpired();
        Assert.Equal(1, Assert.Single(_cut).Count);
        Assert.Null(batcher.TimeUntilNextCut());
    }

    [Fact]
    public void SkippingAhead_NumbersTheNextBatchOfEveryStream_AlsoNewOnes()
    {
        var batcher = new StreamBatcher("p", batchSize: 100, TimeSpan.FromSeconds(1), _time, _cut.Add);
        batcher.Add(P(0), _time.GetTimestamp());
        batcher.CutAllAndSkipTo(10);
        batcher.Add(P(1), _time.GetTimestamp());
        batcher.Add(P(2, version: "v2"), _time.GetTimestamp());
        batcher.CutAll();

        Assert.Equal([("m/v1", 1L), ("m/v1", 10L), ("m/v2", 10L)], _cut.Select(b => (b.StreamKey, b.Sequence)));
    }

    [Fact]
    public void Discarding_CountsTheOpenPredictionsPerModel()
    {
        var batcher = new StreamBatcher("p", batchSize: 100, TimeSpan.FromSeconds(1), _time, _cut.Add);
        batcher.Add(P(0), _time.GetTimestamp());
        batcher.Add(P(1, version: "v2"), _time.GetTimestamp());
        batcher.Add(P(2, model: "other"), _time.GetTimestamp());
        var byModel = new Dictionary<string, long>();
        batcher.DiscardOpen(byModel);

        Assert.Equal(2, byModel["m"]);
        Assert.Equal(1, byModel["other"]);
        batcher.CutAll();
        Assert.Empty(_cut);
    }
}

/// <summary>The bound on held predictions and its wake-up signal.</summary>
public sealed class PredictionBufferTests
{
    [Fact]
    public async Task Reservations_StopAtTheCapacity_AndAReleaseWakesWaiters()
    {
        var buffer = new PredictionBuffer(2);
        Assert.True(buffer.TryReserve());
        Assert.True(buffer.TryReserve());
        Assert.False(buffer.TryReserve());
        Assert.Equal(2, buffer.Count);

        var space = buffer.SpaceReleased;
        Assert.False(space.IsCompleted);
        buffer.Release(1);
        await space.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(1, buffer.Count);
        Assert.True(buffer.TryReserve());
    }

    [Fact]
    public void FullBuffer_IsReportedOnce_UntilSpaceIsReleased()
    {
        var buffer = new PredictionBuffer(1);
        Assert.True(buffer.FirstFullSinceRelease());
        Assert.False(buffer.FirstFullSinceRelease());
        buffer.Release(0);
        Assert.True(buffer.FirstFullSinceRelease());
    }
}

/// <summary>The retry pipeline on its own: same batch on every attempt, permanent refusals not retried.</summary>
public sealed class SinkRetryTests : IDisposable
{
    private readonly FakeTimeProvider _time = new(Start);
    private readonly MetricsProbe _probe = new();
    private readonly RecordingSink _sink = new();

    public void Dispose() => _probe.Dispose();

    [Fact]
    public async Task TransientFailures_AreRetriedWithTheSameBatch_UntilItGoesThrough()
    {
        _sink.FailNext(2);
        var retry = new SinkRetry(_sink, TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(1), _probe.Metrics, NullLogger.Instance, _time);
        var batch = new SinkBatch("m", "v1", "p", 7, [P(0)]);
        var delivery = retry.DeliverAsync(batch, CancellationToken.None);
        await DriveUntilAsync(_time, TimeSpan.FromMilliseconds(100), () => delivery.IsCompleted, "the delivery");

        Assert.True(await delivery);
        Assert.Equal([1, 2, 3], _sink.Attempts.Select(a => a.Attempt));
        Assert.All(_sink.Attempts, a => Assert.Same(batch, a.Batch));
        Assert.Equal(2, _probe.Sum("confusionmatrix.client.retries"));
    }

    [Fact]
    public async Task PermanentRefusal_IsNotRetried()
    {
        _sink.Refuse.Add("m/v1");
        var retry = new SinkRetry(_sink, TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(1), _probe.Metrics, NullLogger.Instance, _time);
        Assert.False(await retry.DeliverAsync(new SinkBatch("m", "v1", "p", 1, [P(0)]), CancellationToken.None));
        Assert.Single(_sink.Attempts);
        Assert.Equal(0, _probe.Sum("confusionmatrix.client.retries"));
    }

    [Fact]
    public async Task Cancellation_StopsTheRetries()
    {
        _sink.FailNext(int.MaxValue);
        var retry = new SinkRetry(_sink, TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(1), _probe.Metrics, NullLogger.Instance, _time);
        using var cancel = new CancellationTokenSource();
        var delivery = retry.DeliverAsync(new SinkBatch("m", "v1", "p", 1, [P(0)]), cancel.Token);
        await Eventually.TrueAsync(() => !_sink.Attempts.IsEmpty, "the first attempt");
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => delivery);
    }
}

/// <summary>The sender on its own: one batch in flight per stream, in order; flush waits; shutdown counts the rest.</summary>
public sealed class BatchSenderTests : IDisposable
{
    private readonly FakeTimeProvider _time = new(Start);
    private readonly MetricsProbe _probe = new();
    private readonly RecordingSink _sink = new();
    private readonly CancellationTokenSource _abort = new();
    private readonly List<(long Sequence, bool Delivered)> _resolved = [];

    public void Dispose()
    {
        _abort.Cancel();
        _probe.Dispose();
    }

    [Fact]
    public async Task BatchesOfAStream_GoOneAtATimeInOrder_AndAFlushWaitsForThem()
    {
        var sender = NewSender();
        for (var i = 1; i <= 5; i++)
        {
            sender.Enqueue(new SinkBatch("m", "v1", "p", i, [P(i)]));
        }

        Assert.True(await sender.WhenQueuedResolved().WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal([1L, 2, 3, 4, 5], _sink.Delivered.Select(b => b.Sequence));
        Assert.Equal(1, _sink.MaxInFlightPerStream);
        lock (_resolved)
        {
            Assert.All(_resolved, r => Assert.True(r.Delivered));
        }

        await sender.WaitForIdleAsync().WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task Finalize_CountsWhatWasNeverResolved_AndFailsTheFlush()
    {
        _sink.Gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var sender = NewSender();
        sender.Enqueue(new SinkBatch("m", "v1", "p", 1, [P(0), P(1)]));
        sender.Enqueue(new SinkBatch("m", "v1", "p", 2, [P(2)]));
        var flush = sender.WhenQueuedResolved();
        await Eventually.TrueAsync(() => !_sink.Attempts.IsEmpty, "the first send");

        var byModel = new Dictionary<string, long>();
        sender.Finalize(byModel);
        await _abort.CancelAsync();

        Assert.Equal(3, byModel["m"]);
        Assert.False(await flush.WaitAsync(TimeSpan.FromSeconds(10)));
        lock (_resolved)
        {
            Assert.Empty(_resolved);
        }
    }

    private BatchSender NewSender()
    {
        var retry = new SinkRetry(_sink, TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(1), _probe.Metrics, NullLogger.Instance, _time);
        return new BatchSender(retry, (batch, delivered) => { lock (_resolved) { _resolved.Add((batch.Sequence, delivered)); } }, _abort.Token);
    }
}
