using ConfusionMatrix.Abstractions;

namespace ConfusionMatrix.Client;

/// <summary>
/// Where a <see cref="PredictionLogger"/> sends its batches. The logger calls <see cref="SendAsync"/> for at most one
/// batch per stream key at a time, in sequence order, and retries a failed batch with the same producer id and
/// sequence. A sink should throw when it cannot confirm delivery, and throw <see cref="NonRetryableSinkException"/> only
/// when the batch can certainly never be delivered (it is then dropped and counted).
/// </summary>
public interface IPredictionSink
{
    Task SendAsync(SinkBatch batch, CancellationToken cancellationToken);
}

/// <summary>A permanent refusal of a batch (e.g. larger than the transport allows); the logger drops and counts it.</summary>
public sealed class NonRetryableSinkException(string message, Exception? innerException = null) : Exception(message, innerException);

/// <summary>
/// One batch of a stream <c>{model}/{version}</c>, numbered for replay detection. Immutable once sealed: a retry
/// presents the very same object, so producer id, sequence and content never change between attempts.
/// </summary>
public sealed class SinkBatch
{
    private PredictionBatch? _encoded;

    internal SinkBatch(string model, string version, string producerId, long sequence, IReadOnlyList<Prediction> predictions)
    {
        Model = model;
        Version = version;
        StreamKey = PredictionLog.VersionKey(model, version);
        ProducerId = producerId;
        Sequence = sequence;
        Predictions = predictions;
    }

    public string Model { get; }

    public string Version { get; }

    /// <summary><c>{model}/{version}</c>: the Orleans stream key, version-router key and Event Hubs partition key.</summary>
    public string StreamKey { get; }

    public string ProducerId { get; }

    /// <summary>Strictly increasing per (producer, stream key), starting at 1, in the order batches reach the sink.</summary>
    public long Sequence { get; }

    /// <summary>The predictions, in the order they were logged; every timestamp is set.</summary>
    public IReadOnlyList<Prediction> Predictions { get; }

    public int Count => Predictions.Count;

    /// <summary>1 on the first send, 2 on the first retry, and so on.</summary>
    public int Attempt { get; internal set; }

    /// <summary>The columnar, dictionary-encoded wire form; built once and reused by every attempt.</summary>
    public PredictionBatch ToPredictionBatch()
    {
        if (_encoded is { } done)
        {
            return done;
        }

        var builder = new PredictionBatchBuilder(Model, Version);
        foreach (var p in Predictions)
        {
            builder.Add(p.Actual, p.Predicted, p.Timestamp!.Value, p.Segments, p.PredictionId, p.Score);
        }

        var built = builder.Build(ProducerId, Sequence);
        Interlocked.CompareExchange(ref _encoded, built, null);
        return _encoded!;
    }
}
