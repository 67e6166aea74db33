using ConfusionMatrix.Abstractions;
using ConfusionMatrix.Grains;
using ConfusionMatrix.Silo.Configuration;
using ConfusionMatrix.Silo.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Configuration;
using Orleans.TestingHost;

namespace ConfusionMatrix.Durability.Tests;

/// <summary>
/// A test cluster wired exactly as the host wires the durable profile: Azure Table grain storage and Azure Queue
/// streams, here on Azurite. Membership and timeouts are shortened so that a killed silo is noticed in seconds.
/// </summary>
public static class DurableCluster
{
    private const string ConnectionKey = "Durable:ConnectionString";
    private const string ControlStoreKey = "Durable:ControlStore";
    private const string FormatKey = "Durable:Format";

    /// <param name="controlStore">A provider for the control store only (<c>Storage:Stores:control</c>); null keeps Azure Table.</param>
    /// <param name="format">The format grain state is written in (<c>Storage:Format</c>).</param>
    public static async Task<TestCluster> StartAsync(Azurite azurite, string serviceId, int silos, StorageProvider? controlStore = null, StorageFormat format = StorageFormat.Json)
    {
        var builder = new TestClusterBuilder((short)silos);
        builder.Options.ServiceId = serviceId;
        builder.Options.ClusterId = serviceId;
        builder.ConfigureHostConfiguration(c => c.AddInMemoryCollection(new Dictionary<string, string?>
        {
            [ConnectionKey] = azurite.ConnectionString,
            [ControlStoreKey] = controlStore?.ToString(),
            [FormatKey] = format.ToString(),
        }));
        builder.AddSiloBuilderConfigurator<SiloConfigurator>();
        builder.AddClientBuilderConfigurator<ClientConfigurator>();
        var cluster = builder.Build();
        await cluster.DeployAsync();
        return cluster;
    }

    public static ConfusionMatrixOptions Options(string connectionString, string serviceId, string? controlStore = null, string? format = null)
    {
        var options = new ConfusionMatrixOptions
        {
            Clustering = new ClusteringOptions { ServiceId = serviceId, ClusterId = serviceId },
            Storage = new StorageOptions
            {
                Provider = StorageProvider.AzureTable,
                ConnectionString = connectionString,
                RequestTimeoutSeconds = 2,
                Format = format is { Length: > 0 } ? Enum.Parse<StorageFormat>(format) : StorageFormat.Json,
            },
            Streams = new StreamsOptions { Provider = StreamsProvider.AzureQueue, QueueCount = 4, PollMilliseconds = 50, VisibilitySeconds = 5 },
        };
        if (controlStore is { Length: > 0 })
        {
            options.Storage.Stores[StorageNames.Control] = Enum.Parse<StorageProvider>(controlStore);
        }

        return options;
    }

    private sealed class SiloConfigurator : ISiloConfigurator
    {
        public void Configure(ISiloBuilder silo)
        {
            var serviceId = silo.Configuration["Orleans:ServiceId"] ?? silo.Configuration["ServiceId"] ?? "durable";
            var options = Options(silo.Configuration[ConnectionKey]!, serviceId, silo.Configuration[ControlStoreKey], silo.Configuration[FormatKey]);
            silo.Services.AddConfusionMatrixGrainServices();
            ConfusionMatrixHost.AddStorageAndStreams(silo, options);
            silo.Configure<ClusterMembershipOptions>(m =>
            {
                m.ProbeTimeout = TimeSpan.FromSeconds(1);
                m.NumMissedProbesLimit = 2;
                m.NumVotesForDeathDeclaration = 1;
                m.TableRefreshTimeout = TimeSpan.FromSeconds(1);
            });
            silo.Configure<SiloMessagingOptions>(m => m.ResponseTimeout = TimeSpan.FromSeconds(15));
        }
    }

    private sealed class ClientConfigurator : IClientBuilderConfigurator
    {
        public void Configure(IConfiguration configuration, IClientBuilder client)
        {
            var serviceId = configuration["Orleans:ServiceId"] ?? configuration["ServiceId"] ?? "durable";
            var options = Options(configuration[ConnectionKey]!, serviceId);

            // Traffic publishes through this client onto the silos' Azure Queue streams: same provider, same queues.
            client.AddAzureQueueStreams(PredictionLog.StreamProvider, streams =>
            {
                streams.ConfigureAzureQueue(ob => ob.Configure(o => ConfusionMatrixHost.ConfigureQueues(o, options)));
                streams.ConfigureStreamPubSub(Orleans.Streams.StreamPubSubType.ImplicitOnly);
            });
            client.Configure<ClientMessagingOptions>(m => m.ResponseTimeout = TimeSpan.FromSeconds(15));
        }
    }
}
