using ConfusionMatrix.Abstractions;
using ConfusionMatrix.Grains;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Orleans.TestingHost;

namespace ConfusionMatrix.Tests.Shared;

/// <summary>
/// One two-silo test cluster shared by every cluster test (deploying costs seconds). Silos use memory storage and
/// memory streams; the application clock is a fake one the tests move. Tests use distinct model names, so they do not
/// see each other's grains.
/// </summary>
public sealed class ClusterFixture : IAsyncLifetime
{
    public static readonly DateTimeOffset Start = new(2026, 11, 26, 10, 0, 0, TimeSpan.Zero);

    /// <summary>Static because silo configurators are created by the test host through their parameterless constructor.</summary>
    public static FakeTimeProvider Time { get; } = new(Start);

    public TestCluster Cluster { get; private set; } = null!;

    public IClusterClient Client => Cluster.Client;

    public async Task InitializeAsync() => Cluster = await DeployAsync<SiloConfigurator>(2);

    public Task DisposeAsync() => StopAsync(Cluster);

    /// <summary>A cluster of <paramref name="silos"/> silos configured by <typeparamref name="TSilo"/>, with the shared client setup.</summary>
    public static async Task<TestCluster> DeployAsync<TSilo>(short silos)
        where TSilo : ISiloConfigurator, new()
    {
        var builder = new TestClusterBuilder(silos);
        builder.AddSiloBuilderConfigurator<TSilo>();
        builder.AddClientBuilderConfigurator<ClientConfigurator>();
        var cluster = builder.Build();
        await cluster.DeployAsync();
        return cluster;
    }

    public static async Task StopAsync(TestCluster? cluster)
    {
        if (cluster is not null)
        {
            await cluster.StopAllSilosAsync();
            await cluster.DisposeAsync();
        }
    }

    /// <summary>The silo of the shared cluster: grain services, memory stores and streams, the fake clock.</summary>
    public static void ConfigureSilo(ISiloBuilder silo)
    {
        silo.Services.AddSingleton(new ApplicationClock(Time));
        silo.Services.AddConfusionMatrixGrainServices();

        // Labels: a fast sweep so expiry tests see it within a second, and a small shard bound so eviction is reachable.
        silo.Services.Configure<LabelJoinOptions>(o =>
        {
            o.ShardCount = 4;
            o.MaxEntriesPerShard = 2000;
            o.SweepInterval = TimeSpan.FromMilliseconds(200);
        });
        // The drift watcher checks its stored size as it does on Azure Table storage.
        silo.Services.Configure<DriftWatcherOptions>(o => o.StateWarningBytes = DriftWatcherOptions.DefaultStateWarningBytes);
        silo.AddMemoryGrainStorage(StorageNames.Registry);
        silo.AddMemoryGrainStorage(StorageNames.Matrices);
        silo.AddMemoryGrainStorage(StorageNames.Labels);
        silo.AddMemoryGrainStorage(StorageNames.Control);
        silo.AddMemoryGrainStorage(StorageNames.PubSub);
        silo.AddMemoryStreams(PredictionLog.StreamProvider, s => s.ConfigureStreamPubSub(Orleans.Streams.StreamPubSubType.ImplicitOnly));
    }

    private sealed class SiloConfigurator : ISiloConfigurator
    {
        public void Configure(ISiloBuilder silo) => ConfigureSilo(silo);
    }

    /// <summary>The same client as the shared cluster's, for other clusters of the same silos.</summary>
    public sealed class ClientConfigurator : IClientBuilderConfigurator
    {
        public void Configure(IConfiguration configuration, IClientBuilder client) =>
            client.AddMemoryStreams(PredictionLog.StreamProvider, s => s.ConfigureStreamPubSub(Orleans.Streams.StreamPubSubType.ImplicitOnly));
    }
}

[CollectionDefinition(Name)]
public sealed class ClusterCollection : ICollectionFixture<ClusterFixture>
{
    public const string Name = "cluster";
}
