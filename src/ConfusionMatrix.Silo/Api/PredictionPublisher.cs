using System.Collections.Concurrent;
using ConfusionMatrix.Abstractions;
using Polly;
using Polly.Retry;

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

    private static readonly ResiliencePropertyKey<string> BatchIdKey = new("confusionmatrix.batch_id");

    private readonly string _producerId = $"http-{Guid.NewGuid():N}";

    // The same batch object (same producer id and sequence) on every attempt; the context names it for the log.
    private readonly ResiliencePipeline _enqueueRetry = new ResiliencePipelineBuilder()
        .AddRetry(new RetryStrategyOptions
        {
            MaxRetryAttempts = RetryDelays.Length,
            DelayGenerator = args => ValueTask.FromResult<TimeSpan?>(RetryDelays[args.AttemptNumber]),
            ShouldHandle = new PredicateBuilder().Handle<Exception>(ex => ex is not OperationCanceledException),
            OnRetry = args =>
            {
                Log.PublishRetry(logger, args.Context.Properties.GetValue(BatchIdKey, "?"), args.Context.OperationKey ?? "?", args.AttemptNumber + 1, args.Outcome.Exception?.Message ?? "");
                return ValueTask.CompletedTask;
            },
        })
        .Build();
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
        var context = ResilienceContextPool.Shared.Get(key, cancellationToken);
        context.Properties.Set(BatchIdKey, batch.BatchId);
        try
        {
            await _enqueueRetry.ExecuteAsync(static async (_, state) => await state.stream.OnNextAsync(state.batch), context, (stream, batch));
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }
    }

    private sealed class Lane
    {
        public SemaphoreSlim Gate { get; } = new(1, 1);

        public long Sequence { get; set; }
    }
}
