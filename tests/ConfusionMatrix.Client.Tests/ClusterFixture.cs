using ConfusionMatrix.Abstractions;
using ConfusionMatrix.Grains;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Orleans.TestingHost;

namespace ConfusionMatrix.Client.Tests;

/// <summary>
/// A two-silo test cluster with memory storage and memory streams, as in the grain tests. The silos' application clock
/// is a fake one standing at <see cref="Support.Start"/>; tests use distinct model names.
/// </summary>
public sealed class ClusterFixture : IAsyncLifetime
{
    /// <summary>Static because silo configurators are created by the test host through their parameterless constructor.</summary>
    public static FakeTimeProvider SiloTime { get; } = new(Support.Start);

    public TestCluster Cluster { get; private set; } = null!;

    public IClusterClient Client => Cluster.Client;

    public async Task InitializeAsync()
    {
        var builder = new TestClusterBuilder(2);
        builder.AddSiloBuilderConfigurator<SiloConfigurator>();
        builder.AddClientBuilderConfigurator<ClientConfigurator>();
        Cluster = builder.Build();
        await Cluster.DeployAsync();
    }

    public async Task DisposeAsync()
    {
        if (Cluster is not null)
        {
            await Cluster.StopAllSilosAsync();
            await Cluster.DisposeAsync();
        }
    }

    private sealed class SiloConfigurator : ISiloConfigurator
    {
        public void Configure(ISiloBuilder silo)
        {
            silo.Services.AddSingleton(new ApplicationClock(SiloTime));
            silo.Services.AddConfusionMatrixGrainServices();
            silo.AddMemoryGrainStorage(StorageNames.Registry);
            silo.AddMemoryGrainStorage(StorageNames.Matrices);
            silo.AddMemoryGrainStorage(StorageNames.Control);
            silo.AddMemoryGrainStorage(StorageNames.PubSub);
            silo.AddMemoryStreams(PredictionLog.StreamProvider, s => s.ConfigureStreamPubSub(Orleans.Streams.StreamPubSubType.ImplicitOnly));
        }
    }

    private sealed class ClientConfigurator : IClientBuilderConfigurator
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
