using ConfusionMatrix.Abstractions;
using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;

namespace ConfusionMatrix.Grains.Tests;

/// <summary>
/// With memory storage the segment matrices checkpoint instead of writing per batch. Counts are visible at once,
/// replays are still skipped, and a deactivated segment comes back with everything it counted.
/// </summary>
public sealed class CheckpointedStorageTests : IAsyncLifetime
{
    private TestCluster _cluster = null!;

    public async Task InitializeAsync()
    {
        var builder = new TestClusterBuilder(1);
        builder.AddSiloBuilderConfigurator<SiloConfigurator>();
        _cluster = builder.Build();
        await _cluster.DeployAsync();
    }

    public async Task DisposeAsync()
    {
        await _cluster.StopAllSilosAsync();
        await _cluster.DisposeAsync();
    }

    [Fact]
    public async Task CountsSurviveDeactivation_AndReplaysAreStillSkipped()
    {
        var grains = _cluster.Client;
        await grains.GetGrain<IModelRegistryGrain>("ckpt").RegisterAsync(new ModelDefinition("ckpt", ["a", "b"], null, ["region"], DateTimeOffset.UtcNow));
        var router = grains.GetGrain<IVersionRouterGrain>(PredictionLog.VersionKey("ckpt", "v1"));
        var builder = new PredictionBatchBuilder("ckpt", "v1");
        for (var i = 0; i < 30; i++)
        {
            builder.Add(i % 3 == 0 ? "b" : "a", i % 5 == 0 ? "b" : "a", DateTimeOffset.UtcNow, [new("region", i % 2 == 0 ? "EU" : "US")]);
        }

        var batch = builder.Build("producer", 1);
        Assert.Equal(30, (await router.IngestAsync(batch)).Accepted);
        var segment = grains.GetGrain<ISegmentMatrixGrain>(Segments.MatrixKey("ckpt", "v1", Segments.All));
        var before = (await segment.GetMatrixAsync(null)).Matrix.ToRows();
        Assert.Equal(30, before.Sum(r => r.Sum()));

        // Deactivate everything idle now; the segment writes its unwritten counts on the way out.
        await grains.GetGrain<IManagementGrain>(0).ForceActivationCollection(TimeSpan.Zero);

        var after = (await segment.GetMatrixAsync(null)).Matrix.ToRows();
        Assert.Equal(before, after);
        await router.IngestAsync(batch);
        Assert.Equal(before, (await segment.GetMatrixAsync(null)).Matrix.ToRows());
        var eu = await grains.GetGrain<ISegmentMatrixGrain>(Segments.MatrixKey("ckpt", "v1", "region=EU")).GetMatrixAsync(null);
        Assert.Equal(15, eu.Matrix.Total);
    }

    private sealed class SiloConfigurator : ISiloConfigurator
    {
        public void Configure(ISiloBuilder silo)
        {
            silo.Services.AddConfusionMatrixGrainServices();
            silo.Services.Configure<SegmentMatrixOptions>(o => o.WriteBeforeAcknowledge = false);
            foreach (var name in new[] { StorageNames.Registry, StorageNames.Matrices, StorageNames.Control, StorageNames.PubSub })
            {
                silo.AddMemoryGrainStorage(name);
            }

            silo.AddMemoryStreams(PredictionLog.StreamProvider, s => s.ConfigureStreamPubSub(Orleans.Streams.StreamPubSubType.ImplicitOnly));
        }
    }
}
