using ConfusionMatrix.Abstractions;
using Microsoft.Extensions.Logging;
using Orleans.Streams;

namespace ConfusionMatrix.Client;

/// <summary>
/// Publishes each batch to the prediction-log stream <c>{model}/{version}</c> of the cluster's
/// <see cref="PredictionLog.StreamProvider"/> provider (the client must configure the same stream provider as the silo).
/// Success means the stream provider accepted the batch; the version router applies it afterwards.
/// </summary>
public sealed class OrleansStreamSink(IClusterClient client) : IPredictionSink
{
    private IStreamProvider? _provider;

    public async Task SendAsync(SinkBatch batch, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(batch);
        cancellationToken.ThrowIfCancellationRequested();
        _provider ??= client.GetStreamProvider(PredictionLog.StreamProvider);
        var stream = _provider.GetStream<PredictionBatch>(StreamId.Create(PredictionLog.StreamNamespace, batch.StreamKey));
        await stream.OnNextAsync(batch.ToPredictionBatch()).WaitAsync(cancellationToken).ConfigureAwait(false);
    }
}

/// <summary>
/// Calls <see cref="IVersionRouterGrain.IngestAsync"/> directly: success means every segment stored the batch.
/// Predictions the silo refuses (unknown model or class, bad segment value) are counted on
/// <c>confusionmatrix.client.rejected</c> with <c>source=silo</c> and logged; they are not retried.
/// </summary>
public sealed class OrleansGrainCallSink(IClusterClient client, PredictionClientMetrics metrics, ILogger<OrleansGrainCallSink> logger) : IPredictionSink
{
    public async Task SendAsync(SinkBatch batch, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(batch);
        cancellationToken.ThrowIfCancellationRequested();
        var router = client.GetGrain<IVersionRouterGrain>(batch.StreamKey);
        var result = await router.IngestAsync(batch.ToPredictionBatch()).WaitAsync(cancellationToken).ConfigureAwait(false);
        foreach (var (reason, count) in result.RejectedByReason)
        {
            if (count > 0)
            {
                metrics.Rejected(reason, "silo", count);
                Log.SiloRejected(logger, $"{batch.ProducerId}:{batch.Sequence}", reason, count);
            }
        }
    }
}
