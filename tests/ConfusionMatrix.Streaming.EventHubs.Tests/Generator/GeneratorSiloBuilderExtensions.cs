using Azure.Messaging.EventHubs;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Configuration;
using Orleans.Streaming.EventHubs;
using Orleans.Streaming.EventHubs.Testing;
using Orleans.Streams;

namespace ConfusionMatrix.Streaming.EventHubs.Tests;

public static class GeneratorSiloBuilderExtensions
{
    /// <summary>
    /// The production data adapter behind Orleans' Event Hubs generator provider (no Azure, no checkpoints). Streams are
    /// placed on a partition with <c>IManagementGrain.SendControlCommandToProvider&lt;PersistentStreamProvider&gt;(name,
    /// (int)EventDataGeneratorAdapterFactory.Commands.Randomly_Place_Stream_To_Queue, new StreamRandomPlacementArg(streamId, n))</c>;
    /// <paramref name="generatorFactory"/> then produces that partition's raw events.
    /// </summary>
    public static ISiloBuilder AddPredictionLogEventHubGenerator(
        this ISiloBuilder silo,
        string name,
        int partitionCount,
        Func<IServiceProvider, StreamId, IStreamDataGenerator<EventData>> generatorFactory)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentOutOfRangeException.ThrowIfLessThan(partitionCount, 1);
        ArgumentNullException.ThrowIfNull(generatorFactory);
        silo.Services.AddPredictionLogEventHubAdapter();
        silo.Services.AddKeyedSingleton<Func<StreamId, IStreamDataGenerator<EventData>>>(name, (sp, _) => streamId => generatorFactory(sp, streamId));
        return silo.AddPersistentStreams(name, PredictionLogGeneratorAdapterFactory.Create, streams =>
        {
            streams.Configure<EventDataGeneratorStreamOptions>(ob => ob.Configure(o => o.EventHubPartitionCount = partitionCount));
            streams.ConfigureComponent<IEventHubDataAdapter>((sp, _) => sp.GetRequiredService<PredictionLogEventHubDataAdapter>());
            streams.ConfigureComponent<IStreamQueueCheckpointerFactory>((_, _) => NoOpCheckpointerFactory.Instance);
            streams.ConfigureStreamPubSub(StreamPubSubType.ImplicitOnly);
        });
    }
}
