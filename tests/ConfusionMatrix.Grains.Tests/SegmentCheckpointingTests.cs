using ConfusionMatrix.Abstractions;
using ConfusionMatrix.Core;
using ConfusionMatrix.Tests.Shared;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Storage;
using Orleans.TestingHost;

namespace ConfusionMatrix.Grains.Tests;

/// <summary>
/// When a segment matrix's state reaches storage, read from the storage provider itself: before each delivery returns
/// when <see cref="SegmentMatrixOptions.WriteBeforeAcknowledge"/> holds, otherwise only on the checkpoint timer or on
/// deactivation, and then once for everything applied since the last write. The mode is a silo-wide option, so each
/// mode runs on its own one-silo cluster instead of the shared fixture.
/// </summary>
public abstract class SegmentCheckpointingTests<TConfigurator> : IAsyncLifetime
    where TConfigurator : ISiloConfigurator, new()
{
    private TestCluster _cluster = null!;

    protected IClusterClient Client => _cluster.Client;

    public async Task InitializeAsync()
    {
        var builder = new TestClusterBuilder(1);
        builder.AddSiloBuilderConfigurator<TConfigurator>();
        _cluster = builder.Build();
        await _cluster.DeployAsync();
    }

    public async Task DisposeAsync()
    {
        await _cluster.StopAllSilosAsync();
        await _cluster.DisposeAsync();
    }

    protected ISegmentMatrixGrain Segment(string model) => Client.GetGrain<ISegmentMatrixGrain>(Segments.MatrixKey(model, "v1", Segments.All));

    /// <summary>One delivery from producer "p": 10 true positives (cell 3 of the 2x2 matrix) in the current minute.</summary>
    protected static SegmentCounts Delivery(long sequence)
    {
        var width = RollingConfusionWindows.DefaultEventTimeResolutionTicks;
        var now = DateTimeOffset.UtcNow.UtcTicks;
        return new SegmentCounts($"p:{sequence}", 2, width, [new CountsPart("p", sequence, 1)], [now - (now % width)], [3], [10]);
    }

    /// <summary>What the matrix storage holds for the segment, or null if it holds nothing.</summary>
    protected async Task<SegmentMatrixState?> StoredAsync(ISegmentMatrixGrain segment)
    {
        var silo = _cluster.GetActiveSilos().OfType<InProcessSiloHandle>().Single();
        var storage = silo.SiloHost.Services.GetRequiredKeyedService<IGrainStorage>(StorageNames.Matrices);
        var read = new GrainState<SegmentMatrixState>(new SegmentMatrixState());
        await storage.ReadStateAsync("matrix", segment.GetGrainId(), read);
        return read.RecordExists ? read.State : null;
    }
}

/// <summary>A silo with memory storage and the segment options a test class chooses.</summary>
public abstract class SegmentCheckpointingSilo : ISiloConfigurator
{
    public void Configure(ISiloBuilder silo)
    {
        silo.Services.AddConfusionMatrixGrainServices();
        silo.Services.Configure<SegmentMatrixOptions>(Choose);
        foreach (var name in new[] { StorageNames.Registry, StorageNames.Matrices, StorageNames.Control, StorageNames.PubSub })
        {
            silo.AddMemoryGrainStorage(name);
        }

        silo.AddMemoryStreams(PredictionLog.StreamProvider, s => s.ConfigureStreamPubSub(Orleans.Streams.StreamPubSubType.ImplicitOnly));
    }

    protected abstract void Choose(SegmentMatrixOptions options);
}

public sealed class WriteBeforeAcknowledgeTests : SegmentCheckpointingTests<WriteBeforeAcknowledgeTests.Silo>
{
    [Fact]
    public async Task EachDelivery_IsStoredBeforeItReturns()
    {
        var segment = Segment("wba");
        await segment.RecordCountsAsync(Delivery(1));
        var first = await StoredAsync(segment);
        Assert.NotNull(first);
        Assert.Equal(1, first.BatchesApplied);
        Assert.Equal([3L, 10L], first.AllTimeCells!);

        await segment.RecordCountsAsync(Delivery(2));
        var second = await StoredAsync(segment);
        Assert.NotNull(second);
        Assert.Equal(2, second.BatchesApplied);
        Assert.Equal([3L, 20L], second.AllTimeCells!);
        Assert.Equal(2, second.StateWrites);
    }

    public sealed class Silo : SegmentCheckpointingSilo
    {
        protected override void Choose(SegmentMatrixOptions options)
        {
            options.WriteBeforeAcknowledge = true;
            options.CheckpointInterval = TimeSpan.FromMilliseconds(100);
        }
    }
}

public sealed class DeactivationCheckpointTests : SegmentCheckpointingTests<DeactivationCheckpointTests.Silo>
{
    [Fact]
    public async Task Deliveries_AreStoredOnlyOnDeactivation_InOneWrite()
    {
        var segment = Segment("deact");
        await segment.RecordCountsAsync(Delivery(1));
        await segment.RecordCountsAsync(Delivery(2));
        Assert.Equal(20, (await segment.GetMatrixAsync(null)).Matrix.Total);
        Assert.Null(await StoredAsync(segment));

        await Client.GetGrain<IManagementGrain>(0).ForceActivationCollection(TimeSpan.Zero);
        var stored = await Eventually.MatchesAsync(() => StoredAsync(segment), s => s is not null, "the write on deactivation");
        Assert.Equal(2, stored!.BatchesApplied);
        Assert.Equal([3L, 20L], stored.AllTimeCells!);
        Assert.Equal(1, stored.StateWrites);
    }

    public sealed class Silo : SegmentCheckpointingSilo
    {
        // Longer than the test: only deactivation can write.
        protected override void Choose(SegmentMatrixOptions options)
        {
            options.WriteBeforeAcknowledge = false;
            options.CheckpointInterval = TimeSpan.FromHours(1);
        }
    }
}

public sealed class TimerCheckpointTests : SegmentCheckpointingTests<TimerCheckpointTests.Silo>
{
    [Fact]
    public async Task Deliveries_AreStoredByTheTimer_WhichWritesOnlyWhatChanged()
    {
        var segment = Segment("timer");
        await segment.RecordCountsAsync(Delivery(1));
        var first = await Eventually.MatchesAsync(() => StoredAsync(segment), s => s is not null, "the first checkpoint");
        Assert.Equal(1, first!.BatchesApplied);
        Assert.Equal(1, first.StateWrites);

        await segment.RecordCountsAsync(Delivery(2));
        var second = await Eventually.MatchesAsync(() => StoredAsync(segment), s => s?.BatchesApplied == 2, "the second checkpoint");
        Assert.Equal([3L, 20L], second!.AllTimeCells!);

        // Ticks in between found nothing unwritten and wrote nothing.
        Assert.Equal(2, second.StateWrites);
    }

    public sealed class Silo : SegmentCheckpointingSilo
    {
        protected override void Choose(SegmentMatrixOptions options)
        {
            options.WriteBeforeAcknowledge = false;
            options.CheckpointInterval = TimeSpan.FromMilliseconds(100);
        }
    }
}
