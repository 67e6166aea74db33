using ConfusionMatrix.Abstractions;
using Microsoft.Extensions.Time.Testing;
using static ConfusionMatrix.Client.Tests.Support;
using Drop = ConfusionMatrix.Client.PredictionClientMetrics.DropReasons;

namespace ConfusionMatrix.Client.Tests;

public sealed class PredictionLoggerTests : IDisposable
{
    private readonly MetricsProbe _probe = new();
    private readonly FakeTimeProvider _time = new(Start);
    private readonly RecordingSink _sink = new();

    public void Dispose() => _probe.Dispose();

    [Fact]
    public async Task Batches_AreCutBySize_AndTheRemainderByTime()
    {
        await using var logger = CreateLogger(_sink, _time, _probe, o => { o.BatchSize = 10; o.BatchInterval = TimeSpan.FromMinutes(5); });
        for (var i = 0; i < 25; i++)
        {
            Assert.True(logger.TryLog(P(i)));
        }

        await Eventually.TrueAsync(() => _sink.Delivered.Count == 2 && logger.BufferedCount == 5, "two full batches");
        Assert.Equal([10, 10], _sink.Delivered.Select(b => b.Count));
        Assert.Equal([1L, 2L], _sink.Delivered.Select(b => b.Sequence));
        Assert.Equal(Enumerable.Range(0, 20).Select(i => $"id-{i}"), _sink.Delivered.SelectMany(b => b.Predictions).Select(p => p.PredictionId));

        _time.Advance(TimeSpan.FromMinutes(5));
        await Eventually.TrueAsync(() => _sink.Delivered.Count == 3, "the time-cut remainder");
        Assert.Equal(5, _sink.Delivered[2].Count);
        Assert.Equal(3, _sink.Delivered[2].Sequence);
        await Eventually.TrueAsync(() => logger.BufferedCount == 0, "buffer empty");
        Assert.Equal(25, _probe.Sum("confusionmatrix.client.sent"));
        Assert.Equal(3, _probe.Sum("confusionmatrix.client.batches"));
    }

    [Fact]
    public async Task Batches_AreCutByAge_OfTheirFirstPrediction()
    {
        await using var logger = CreateLogger(_sink, _time, _probe, o => { o.BatchSize = 1000; o.BatchInterval = TimeSpan.FromMilliseconds(200); });
        for (var i = 0; i < 3; i++)
        {
            logger.TryLog(P(i, model: "a"));
        }

        _time.Advance(TimeSpan.FromMilliseconds(199));
        logger.TryLog(P(100, model: "b"));
        _time.Advance(TimeSpan.FromMilliseconds(1));

        await Eventually.TrueAsync(() => _sink.Delivered.Count == 1, "stream a cut at 200 ms");
        Assert.Equal("a/v1", _sink.Delivered[0].StreamKey);
        Assert.Equal(3, _sink.Delivered[0].Count);

        // Stream b opened at 199 ms and is due at 399 ms; fake time stands at 200 ms, so it cannot have been cut.
        Assert.DoesNotContain(_sink.Attempts, a => a.Batch.StreamKey == "b/v1");
        Assert.Equal(1, logger.BufferedCount);

        _time.Advance(TimeSpan.FromMilliseconds(199));
        await Eventually.TrueAsync(() => _sink.Delivered.Count == 2, "stream b cut at 399 ms");
        Assert.Equal("b/v1", _sink.Delivered[1].StreamKey);
        Assert.Equal(1, _sink.Delivered[1].Sequence);
    }

    [Fact]
    public async Task EachStream_GetsIncreasingSequences_InLogOrder_OneBatchInFlight()
    {
        await using var logger = CreateLogger(_sink, _time, _probe, o => { o.BatchSize = 7; o.BatchInterval = TimeSpan.FromMinutes(5); });
        var streams = new[] { ("m1", "v1"), ("m1", "v2"), ("m2", "v1") };
        var expected = streams.ToDictionary(s => $"{s.Item1}/{s.Item2}", _ => new List<string>());
        for (var i = 0; i < 600; i++)
        {
            var (model, version) = streams[(i * i + i / 5) % 3];
            var p = P(i, model, version);
            Assert.True(logger.TryLog(p));
            expected[p.StreamKey].Add(p.PredictionId);
        }

        await logger.FlushAsync();

        Assert.Equal(600, _sink.DeliveredPredictions);
        Assert.Equal(1, _sink.MaxInFlightPerStream);
        foreach (var (key, ids) in expected)
        {
            var batches = _sink.Delivered.Where(b => b.StreamKey == key).ToList();
            Assert.Equal(Enumerable.Range(1, batches.Count).Select(i => (long)i), batches.Select(b => b.Sequence));
            Assert.Equal(ids, batches.SelectMany(b => b.Predictions).Select(p => p.PredictionId));
            Assert.All(batches, b => Assert.Equal(logger.ProducerId, b.ProducerId));
        }

        Assert.All(_sink.Attempts, a => Assert.Equal(1, a.Attempt));
    }

    [Fact]
    public async Task Retry_ResendsTheSameBatch_WithTheSameProducerAndSequence()
    {
        _sink.FailNext(3);
        await using var logger = CreateLogger(_sink, _time, _probe, o =>
        {
            o.BatchSize = 5;
            o.RetryBaseDelay = TimeSpan.FromMilliseconds(100);
            o.RetryMaxDelay = TimeSpan.FromSeconds(1);
        });
        for (var i = 0; i < 5; i++)
        {
            logger.TryLog(P(i));
        }

        await DriveUntilAsync(_time, TimeSpan.FromSeconds(1), () => _sink.Delivered.Count == 1, "the batch after three failures");
        for (var i = 5; i < 10; i++)
        {
            logger.TryLog(P(i));
        }

        await Eventually.TrueAsync(() => _sink.Delivered.Count == 2, "the next batch");

        var first = _sink.Attempts.Where(a => a.Sequence == 1).ToList();
        Assert.Equal([1, 2, 3, 4], first.Select(a => a.Attempt));
        Assert.All(first, a => Assert.Equal(logger.ProducerId, a.ProducerId));
        Assert.All(first, a => Assert.Equal(["id-0", "id-1", "id-2", "id-3", "id-4"], a.Ids));
        Assert.All(first, a => Assert.Same(first[0].Batch, a.Batch));
        Assert.Equal(2, _sink.Delivered[1].Sequence);
        Assert.Equal(3, _probe.Sum("confusionmatrix.client.retries"));
        Assert.Equal(10, _probe.Sum("confusionmatrix.client.sent"));
        Assert.Equal(0, _probe.Sum("confusionmatrix.client.dropped"));
    }

    [Fact]
    public async Task Backoff_IsFullJitter_UnderAnExponentialCeiling_CappedAtTheMaximum()
    {
        await using var logger = CreateLogger(_sink, _time, _probe, o => { o.RetryBaseDelay = TimeSpan.FromMilliseconds(100); o.RetryMaxDelay = TimeSpan.FromSeconds(30); });
        var samples = Enumerable.Range(0, 200).Select(_ => logger.Backoff(3)).ToList();
        Assert.All(samples, d => Assert.InRange(d, TimeSpan.Zero, TimeSpan.FromMilliseconds(400)));
        Assert.Contains(samples, d => d < TimeSpan.FromMilliseconds(200));
        Assert.Contains(samples, d => d > TimeSpan.FromMilliseconds(200));
        var capped = Enumerable.Range(0, 200).Select(_ => logger.Backoff(60)).ToList();
        Assert.All(capped, d => Assert.InRange(d, TimeSpan.Zero, TimeSpan.FromSeconds(30)));
        Assert.Contains(capped, d => d > TimeSpan.FromSeconds(15));
    }

    [Fact]
    public async Task TryLog_WhenTheBufferIsFull_DropsAndCounts()
    {
        _sink.Gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var logger = CreateLogger(_sink, _time, _probe, o => { o.BatchSize = 5; o.MaxBufferedPredictions = 10; });
        for (var i = 0; i < 10; i++)
        {
            Assert.True(logger.TryLog(P(i)));
        }

        Assert.False(logger.TryLog(P(10)));
        Assert.False(logger.TryLog(P(11)));
        Assert.Equal(2, _probe.Sum("confusionmatrix.client.dropped", Drop.BufferFull));
        Assert.Equal(10, _probe.Gauge("confusionmatrix.client.buffered"));

        _sink.Gate.SetResult();
        await Eventually.TrueAsync(() => _sink.DeliveredPredictions == 10 && logger.BufferedCount == 0, "the outage to end");
        Assert.True(logger.TryLog(P(12)));
        await logger.FlushAsync();
        Assert.Equal(Enumerable.Range(0, 10).Append(12).Select(i => $"id-{i}"), _sink.Delivered.SelectMany(b => b.Predictions).Select(p => p.PredictionId));
        Assert.Equal(11, _probe.Sum("confusionmatrix.client.sent"));
        Assert.Equal(2, _probe.Sum("confusionmatrix.client.dropped"));
    }

    [Fact]
    public async Task LogAsync_WhenTheBufferIsFull_WaitsForSpace_AndLosesNothing()
    {
        _sink.Gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var logger = CreateLogger(_sink, _time, _probe, o => { o.BatchSize = 4; o.MaxBufferedPredictions = 4; });
        for (var i = 0; i < 4; i++)
        {
            var accepted = logger.LogAsync(P(i));
            Assert.True(accepted.IsCompletedSuccessfully);
            Assert.True(await accepted);
        }

        var waiting = logger.LogAsync(P(4)).AsTask();
        Assert.False(waiting.IsCompleted);

        _sink.Gate.SetResult();
        Assert.True(await waiting.WaitAsync(TimeSpan.FromSeconds(15)));
        await logger.FlushAsync();
        Assert.Equal(Enumerable.Range(0, 5).Select(i => $"id-{i}"), _sink.Delivered.SelectMany(b => b.Predictions).Select(p => p.PredictionId));
        Assert.Equal(0, _probe.Sum("confusionmatrix.client.dropped"));
    }

    [Fact]
    public async Task LogAsync_WaitingForSpace_HonoursCancellation()
    {
        _sink.Gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var logger = CreateLogger(_sink, _time, _probe, o => { o.BatchSize = 1; o.MaxBufferedPredictions = 1; });
        Assert.True(await logger.LogAsync(P(0)));
        using var cts = new CancellationTokenSource();
        var waiting = logger.LogAsync(P(1), cts.Token).AsTask();
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);
        _sink.Gate.SetResult();
        await logger.FlushAsync();
        Assert.Equal(["id-0"], _sink.Delivered.SelectMany(b => b.Predictions).Select(p => p.PredictionId));
    }

    [Fact]
    public async Task InvalidPredictions_AreRejectedLocally_ByReason_AndNeverSent()
    {
        await using var logger = CreateLogger(_sink, _time, _probe);
        var now = _time.GetUtcNow();
        Assert.False(logger.TryLog(P(0) with { PredictionId = "" }));
        Assert.False(logger.TryLog(P(1) with { Predicted = null! }));
        Assert.False(logger.TryLog(P(2) with { PredictionId = new string('x', PredictionLimits.MaxIdLength + 1) }));
        Assert.False(logger.TryLog(P(3) with { Model = "a/b" }));
        Assert.False(logger.TryLog(P(4, region: " ")));
        Assert.False(logger.TryLog(P(5) with { Timestamp = new DateTimeOffset(1999, 12, 31, 0, 0, 0, TimeSpan.Zero) }));
        Assert.False(logger.TryLog(P(6) with { Timestamp = now.AddHours(1) }));
        Assert.False(logger.TryLog(P(7) with { Score = double.NaN }));
        Assert.False(await logger.LogAsync(null!));
        Assert.True(logger.TryLog(P(8) with { Timestamp = now.AddMinutes(4), Score = 0.25 }));

        await logger.FlushAsync();
        Assert.Equal(["id-8"], _sink.Delivered.SelectMany(b => b.Predictions).Select(p => p.PredictionId));
        Assert.Equal(3, _probe.Sum("confusionmatrix.client.rejected", RejectionReasons.MissingField, "client"));
        Assert.Equal(1, _probe.Sum("confusionmatrix.client.rejected", RejectionReasons.IdTooLong));
        Assert.Equal(1, _probe.Sum("confusionmatrix.client.rejected", RejectionReasons.BadName));
        Assert.Equal(1, _probe.Sum("confusionmatrix.client.rejected", RejectionReasons.EmptySegmentValue));
        Assert.Equal(2, _probe.Sum("confusionmatrix.client.rejected", RejectionReasons.BadTimestamp));
        Assert.Equal(1, _probe.Sum("confusionmatrix.client.rejected", RejectionReasons.Malformed));
        Assert.Equal(1, _probe.Sum("confusionmatrix.client.sent"));
    }

    [Fact]
    public async Task MissingTimestamp_IsStampedWithTheLogTime()
    {
        await using var logger = CreateLogger(_sink, _time, _probe);
        _time.Advance(TimeSpan.FromSeconds(3));
        logger.TryLog(P(0));
        var logged = _time.GetUtcNow();
        _time.Advance(TimeSpan.FromSeconds(1));
        await logger.FlushAsync();
        Assert.Equal(logged, _sink.Delivered.Single().Predictions.Single().Timestamp);
    }

    [Fact]
    public async Task Dispose_DrainsEverythingBuffered_ThenRefusesAndCounts()
    {
        var logger = CreateLogger(_sink, _time, _probe, o => { o.BatchSize = 1000; o.BatchInterval = TimeSpan.FromMinutes(5); });
        for (var i = 0; i < 7; i++)
        {
            logger.TryLog(P(i, model: i % 2 == 0 ? "even" : "odd"));
        }

        await logger.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(15));

        Assert.Equal(7, _sink.DeliveredPredictions);
        Assert.Equal(0, logger.BufferedCount);
        Assert.False(logger.TryLog(P(7)));
        Assert.False(await logger.LogAsync(P(8)));
        Assert.Equal(2, _probe.Sum("confusionmatrix.client.dropped", Drop.Closed));
        Assert.Equal(0, _probe.Sum("confusionmatrix.client.dropped", Drop.Shutdown));
        await logger.DisposeAsync();
    }

    [Fact]
    public async Task Dispose_InAnOutage_GivesUpAfterTheDrainTimeout_AndCountsTheLoss()
    {
        _sink.FailNext(int.MaxValue);
        var logger = CreateLogger(_sink, _time, _probe, o =>
        {
            o.BatchSize = 2;
            o.DrainTimeout = TimeSpan.FromSeconds(5);
            o.RetryMaxDelay = TimeSpan.FromSeconds(1);
        });
        for (var i = 0; i < 5; i++)
        {
            logger.TryLog(P(i));
        }

        var disposal = logger.DisposeAsync().AsTask();
        await DriveUntilAsync(_time, TimeSpan.FromSeconds(1), () => disposal.IsCompleted, "disposal to give up");
        await disposal;

        Assert.Empty(_sink.Delivered);
        Assert.Equal(5, _probe.Sum("confusionmatrix.client.dropped", Drop.Shutdown));
        Assert.Equal(0, logger.BufferedCount);
        Assert.True(_probe.Sum("confusionmatrix.client.retries") > 0);
    }

    [Fact]
    public async Task PermanentlyRefusedBatch_IsDroppedAndCounted_AndTheStreamMovesOn()
    {
        _sink.Refuse.Add("bad/v1");
        await using var logger = CreateLogger(_sink, _time, _probe, o => o.BatchSize = 3);
        for (var i = 0; i < 3; i++)
        {
            logger.TryLog(P(i, model: "bad"));
            logger.TryLog(P(i, model: "good"));
        }

        await logger.FlushAsync();
        Assert.Equal(3, _probe.Sum("confusionmatrix.client.dropped", Drop.SinkRejected));
        Assert.Equal(3, _sink.DeliveredPredictions);

        _sink.Refuse.Clear();
        logger.TryLog(P(9, model: "bad"));
        await logger.FlushAsync();
        Assert.Equal(2, _sink.Delivered.Single(b => b.StreamKey == "bad/v1").Sequence);
    }

    [Fact]
    public async Task FlushWithTimeout_ReportsWhetherEverythingWentOut()
    {
        _sink.Gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var logger = CreateLogger(_sink, _time, _probe);
        logger.TryLog(P(0));
        var flush = logger.FlushAsync(TimeSpan.FromSeconds(2));
        await DriveUntilAsync(_time, TimeSpan.FromSeconds(1), () => flush.IsCompleted, "flush to time out");
        Assert.False(await flush);

        _sink.Gate.SetResult();
        Assert.True(await logger.FlushAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal(1, _sink.DeliveredPredictions);
    }

    [Fact]
    public async Task ProducerIds_AreUniquePerLogger_AndNameTheService()
    {
        await using var a = CreateLogger(_sink, _time, _probe, o => o.ServiceName = "scorer");
        await using var b = CreateLogger(_sink, _time, _probe, o => o.ServiceName = "scorer");
        Assert.NotEqual(a.ProducerId, b.ProducerId);
        Assert.StartsWith($"scorer-{Environment.MachineName}-", a.ProducerId);
    }
}
