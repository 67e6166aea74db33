using ConfusionMatrix.Abstractions;
using Orleans.Streaming.EventHubs;
using Orleans.Streams;

namespace ConfusionMatrix.Streaming.EventHubs;

/// <summary>
/// Delivers the one <see cref="PredictionBatch"/> an Event Hubs event became. The token is Orleans' own
/// <see cref="EventHubSequenceTokenV2"/>, so cache ordering, cache-pressure accounting and rewinds work unchanged.
/// </summary>
[GenerateSerializer, Immutable, Alias("cm.eventhubs.PredictionLogBatchContainer")]
public sealed class PredictionLogBatchContainer(StreamId streamId, EventHubSequenceTokenV2 token, PredictionBatch batch) : IBatchContainer
{
    [Id(0)]
    public StreamId StreamId { get; } = streamId;

    [Id(1)]
    public EventHubSequenceTokenV2 Token { get; } = token;

    [Id(2)]
    public PredictionBatch Batch { get; } = batch;

    public StreamSequenceToken SequenceToken => Token;

    public IEnumerable<Tuple<T, StreamSequenceToken>> GetEvents<T>() =>
        Batch is T typed ? [Tuple.Create<T, StreamSequenceToken>(typed, Token)] : [];

    /// <summary>Raw events from non-Orleans producers carry no request context.</summary>
    public bool ImportRequestContext() => false;
}
