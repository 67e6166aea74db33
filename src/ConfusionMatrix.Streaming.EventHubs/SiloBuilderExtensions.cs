using Azure.Data.Tables;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Orleans.Configuration;
using Orleans.Hosting;
using Orleans.Streaming.EventHubs;
using Orleans.Streams;

namespace ConfusionMatrix.Streaming.EventHubs;

public static class SiloBuilderExtensions
{
    /// <summary>How often a partition's checkpoint is written to the table at most (Orleans' default is one minute).</summary>
    public static readonly TimeSpan DefaultCheckpointPersistInterval = TimeSpan.FromSeconds(10);

    /// <summary>
    /// The prediction log on Azure Event Hubs: <paramref name="name"/> must be <c>PredictionLog.StreamProvider</c> for
    /// the version routers' implicit subscription to see it. Partition checkpoints live in the Azure table
    /// <c>Checkpoint</c> (unless <paramref name="configureCheckpointer"/> changes it).
    /// </summary>
    public static ISiloBuilder AddPredictionLogEventHubs(
        this ISiloBuilder silo,
        string name,
        string connectionString,
        string eventHubName,
        string consumerGroup,
        string checkpointTableConnectionString,
        Action<AzureTableStreamCheckpointerOptions>? configureCheckpointer = null,
        TimeSpan? maxEventDeliveryTime = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        ArgumentException.ThrowIfNullOrWhiteSpace(eventHubName);
        ArgumentException.ThrowIfNullOrWhiteSpace(consumerGroup);
        ArgumentException.ThrowIfNullOrWhiteSpace(checkpointTableConnectionString);
        return silo.AddPredictionLogEventHubs(
            name,
            o => o.ConfigureEventHubConnection(connectionString, eventHubName, consumerGroup),
            () => new TableServiceClient(checkpointTableConnectionString),
            configureCheckpointer,
            maxEventDeliveryTime);
    }

    /// <summary>
    /// The prediction log on Azure Event Hubs, connected by <paramref name="connect"/> (a connection string, or a
    /// namespace with a <c>TokenCredential</c>), with partition checkpoints in the table service
    /// <paramref name="checkpointTables"/> returns.
    /// </summary>
    public static ISiloBuilder AddPredictionLogEventHubs(
        this ISiloBuilder silo,
        string name,
        Action<EventHubOptions> connect,
        Func<TableServiceClient> checkpointTables,
        Action<AzureTableStreamCheckpointerOptions>? configureCheckpointer = null,
        TimeSpan? maxEventDeliveryTime = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(connect);
        ArgumentNullException.ThrowIfNull(checkpointTables);
        silo.Services.AddPredictionLogEventHubAdapter();
        return silo.AddEventHubStreams(name, streams =>
        {
            streams.ConfigureEventHub(ob => ob.Configure(connect));
            streams.UseAzureTableCheckpointer(ob => ob.Configure(o =>
            {
                o.TableServiceClient = checkpointTables();
                o.PersistInterval = DefaultCheckpointPersistInterval;
                configureCheckpointer?.Invoke(o);
            }));
            streams.UseDataAdapter((sp, _) => sp.GetRequiredService<PredictionLogEventHubDataAdapter>());
            streams.ConfigureStreamPubSub(StreamPubSubType.ImplicitOnly);

            // Without a checkpoint, read the partition from its start: events written before the first silo came up
            // are acknowledged predictions too. Replays are skipped by the segments' replay windows.
            streams.Configure<EventHubReceiverOptions>(ob => ob.Configure(o => o.StartFromNow = false));
            if (maxEventDeliveryTime is { } maxDelivery)
            {
                streams.ConfigurePullingAgent(ob => ob.Configure(o => o.MaxEventDeliveryTime = maxDelivery));
            }
        });
    }

    /// <summary>The adapter and its metrics as singletons; a host may register a <see cref="TimeProvider"/> first.</summary>
    public static IServiceCollection AddPredictionLogEventHubAdapter(this IServiceCollection services)
    {
        services.AddMetrics();
        services.TryAddSingleton<EventHubIngestionMetrics>();
        services.TryAddSingleton(sp => ActivatorUtilities.CreateInstance<PredictionLogEventHubDataAdapter>(sp, sp.GetService<TimeProvider>() ?? TimeProvider.System));
        return services;
    }
}
