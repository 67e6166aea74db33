using System.Collections.Concurrent;
using ConfusionMatrix.Abstractions;

namespace ConfusionMatrix.Silo.Api;

/// <summary>
/// Publishes validated batches to the prediction-log stream. Each stream gets its own lane: batches are numbered and
/// enqueued one at a time, so sequence order is enqueue order (the segment grains' replay windows rely on it), and a
/// retried enqueue re-sends the same number, so an enqueue that did land before its error is not counted twice.
/// </summary>
public sealed class PredictionPublisher(IClusterClient client, ILogger<PredictionPublisher> logger)
{
    /// <summary>Waits between enqueue attempts; about four seconds in all before the batch is reported unavailable.</summary>
    internal static readonly TimeSpan[] RetryDelays =
        [TimeSpan.FromMilliseconds(50), TimeSpan.FromMilliseconds(200), TimeSpan.FromMilliseconds(750), TimeSpan.FromSeconds(3)];

    private readonly string _producerId = $"http-{Guid.NewGuid():N}";
    private readonly ConcurrentDictionary<string, Lane> _lanes = new(StringComparer.Ordinal);

    public string ProducerId => _producerId;

    public async Task PublishAsync(PredictionBatchBuilder builder, CancellationToken cancellationToken = default)
    {
        var key = PredictionLog.VersionKey(builder.Model, builder.Version);
        using var activity = Grains.ConfusionMatrixInstruments.ActivitySource.StartActivity("confusionmatrix.publish", System.Diagnostics.ActivityKind.Producer);
        activity?.SetTag("confusionmatrix.model", builder.Model);
        activity?.SetTag("confusionmatrix.version", builder.Version);
        var lane = _lanes.GetOrAdd(key, _ => new Lane());
        await lane.Gate.WaitAsync(cancellationToken);
        try
        {
            await EnqueueAsync(key, builder.Build(_producerId, ++lane.Sequence), cancellationToken);
        }
        finally
        {
            lane.Gate.Release();
        }
    }

    /// <summary>
    /// Publishes a batch numbered by the caller: a request with an idempotency key is published as its key's producer,
    /// with the same numbers on every retry, so a batch that did land the first time is a replay the second.
    /// </summary>
    public Task PublishAsync(PredictionBatchBuilder builder, string producerId, long sequence, CancellationToken cancellationToken = default) =>
        EnqueueAsync(PredictionLog.VersionKey(builder.Model, builder.Version), builder.Build(producerId, sequence), cancellationToken);

    private async Task EnqueueAsync(string key, PredictionBatch batch, CancellationToken cancellationToken)
    {
        var stream = client.GetStreamProvider(PredictionLog.StreamProvider)
            .GetStream<PredictionBatch>(StreamId.Create(PredictionLog.StreamNamespace, key));
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                await stream.OnNextAsync(batch);
                return;
            }
            catch (Exception ex) when (attempt < RetryDelays.Length && !cancellationToken.IsCancellationRequested)
            {
                Log.PublishRetry(logger, batch.BatchId, key, attempt + 1, ex.Message);
                await Task.Delay(RetryDelays[attempt], cancellationToken);
            }
        }
    }

    private sealed class Lane
    {
        public SemaphoreSlim Gate { get; } = new(1, 1);

        public long Sequence { get; set; }
    }
}
