using Microsoft.Extensions.Time.Testing;
using static ConfusionMatrix.Client.Tests.Support;

namespace ConfusionMatrix.Client.Tests;

/// <summary>Numbered replays (backfills): cuts at fixed log positions give the same batches the same sequences.</summary>
public sealed class CutBatchesTests : IDisposable
{
    private readonly MetricsProbe _probe = new();
    private readonly FakeTimeProvider _time = new(Start);

    public void Dispose() => _probe.Dispose();

    [Fact]
    public async Task Cut_SealsOpenBatches_AndNumbersEveryStreamsNextBatchFromTheCut()
    {
        var sink = new RecordingSink();
        await using var logger = CreateLogger(sink, _time, _probe, o => { o.ProducerId = "replay"; o.BatchSize = 100; o.BatchInterval = TimeSpan.FromMinutes(5); });

        Assert.True(logger.CutBatches(5));
        Assert.True(logger.TryLog(P(0)) && logger.TryLog(P(1)) && logger.TryLog(P(2)));
        Assert.True(logger.CutBatches(8));
        Assert.True(logger.TryLog(P(3)) && logger.TryLog(P(4, version: "v2")));
        await logger.FlushAsync();

        var batches = sink.Delivered.OrderBy(b => b.StreamKey, StringComparer.Ordinal).ThenBy(b => b.Sequence).Select(b => (b.StreamKey, b.Sequence, b.Count)).ToList();
        Assert.Equal([("m/v1", 5L, 3), ("m/v1", 8L, 1), ("m/v2", 8L, 1)], batches);
        Assert.All(sink.Delivered, b => Assert.Equal("replay", b.ProducerId));
    }

    [Fact]
    public async Task ResumedReplay_SendsTheSameChunkUnderTheSameSequence()
    {
        async Task<List<(long, string[])>> ReplayAsync(int fromChunk)
        {
            var sink = new RecordingSink();
            using var probe = new MetricsProbe();
            await using var logger = CreateLogger(sink, _time, probe, o => { o.ProducerId = "replay"; o.BatchSize = 100; o.BatchInterval = TimeSpan.FromMinutes(5); });
            for (var record = fromChunk * 10; record < 50; record++)
            {
                if (record % 10 == 0)
                {
                    logger.CutBatches((record / 10) + 1);
                }

                logger.TryLog(P(record));
            }

            await logger.FlushAsync();
            return [.. sink.Delivered.Select(b => (b.Sequence, b.Predictions.Select(p => p.PredictionId).ToArray()))];
        }

        var full = await ReplayAsync(0);
        var resumed = await ReplayAsync(3);

        Assert.Equal([1L, 2L, 3L, 4L, 5L], full.Select(b => b.Item1));
        Assert.Equal(full.Skip(3).Select(b => b.Item1), resumed.Select(b => b.Item1));
        Assert.Equal(full.Skip(3).SelectMany(b => b.Item2), resumed.SelectMany(b => b.Item2));
    }
}
