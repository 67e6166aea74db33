using ConfusionMatrix.Abstractions;

namespace ConfusionMatrix.Silo.Api;

/// <summary>Publishes validated batches to the prediction-log stream, numbered for replay detection.</summary>
public sealed class PredictionPublisher(IClusterClient client)
{
    private readonly string _producerId = $"http-{Guid.NewGuid():N}";
    private long _sequence;

    public async Task PublishAsync(PredictionBatchBuilder builder)
    {
        var batch = builder.Build(_producerId, Interlocked.Increment(ref _sequence));
        var stream = client.GetStreamProvider(PredictionLog.StreamProvider)
            .GetStream<PredictionBatch>(StreamId.Create(PredictionLog.StreamNamespace, PredictionLog.VersionKey(batch.Model, batch.Version)));
        await stream.OnNextAsync(batch);
    }
}
