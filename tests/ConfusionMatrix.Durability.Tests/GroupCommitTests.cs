using System.Collections.Concurrent;
using ConfusionMatrix.Abstractions;
using ConfusionMatrix.Core;
using ConfusionMatrix.Grains;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Storage;
using Orleans.TestingHost;

namespace ConfusionMatrix.Durability.Tests;

/// <summary>
/// Group commit of a segment matrix on Azure Table storage (Azurite): concurrent deliveries share writes, and each is
/// acknowledged only once storage holds it.
/// </summary>
[Collection(DurabilityCollection.Name)]
public sealed class GroupCommitTests(AzuriteFixture fixture)
{
    [Fact]
    public async Task ConcurrentDeliveries_ShareWrites_AndEachIsStoredBeforeItsAcknowledgement()
    {
        var serviceId = $"group{Guid.NewGuid():N}"[..20];
        var cluster = await DurableCluster.StartAsync(fixture.Azurite, serviceId, silos: 1);
        try
        {
            var segment = cluster.Client.GetGrain<ISegmentMatrixGrain>(Segments.MatrixKey("group", "v1", Segments.All));
            var silo = cluster.GetActiveSilos().OfType<InProcessSiloHandle>().Single();
            var storage = silo.SiloHost.Services.GetRequiredKeyedService<IGrainStorage>(StorageNames.Matrices);
            var grainId = segment.GetGrainId();
            var width = RollingConfusionWindows.DefaultEventTimeResolutionTicks;
            var now = DateTimeOffset.UtcNow.UtcTicks;
            var minute = now - (now % width);

            // Activate first, so that the deliveries below meet a running grain rather than queue behind activation.
            await segment.GetMatrixAsync(null);

            const int deliveries = 24;
            var storedAtAcknowledgement = new ConcurrentDictionary<long, bool>();
            var calls = Enumerable.Range(1, deliveries).Select(async seq =>
            {
                await segment.RecordCountsAsync(new SegmentCounts($"g:{seq}", 2, width, [new CountsPart("g", seq, 1)], [minute], [3], [10]));

                // Acknowledged: the write that holds this delivery has completed, so storage must show its sequence.
                var stored = await ReadAsync(storage, grainId);
                var mark = stored.Watermarks["g"];
                var window = new ReplayWindow(mark.Highest, mark.Seen, mark.Older);
                storedAtAcknowledgement[seq] = window.Check(seq) != ReplayDecision.Accept;
            }).ToList();
            await Task.WhenAll(calls);

            Assert.Equal(deliveries, storedAtAcknowledgement.Count);
            Assert.All(storedAtAcknowledgement, kv => Assert.True(kv.Value, $"delivery {kv.Key} was acknowledged before storage held it"));

            var final = await ReadAsync(storage, grainId);
            Assert.Equal(deliveries, final.BatchesApplied);
            Assert.Equal([3L, 10L * deliveries], final.AllTimeCells!);
            Assert.True(final.StateWrites < deliveries, $"{deliveries} concurrent deliveries took {final.StateWrites} writes");
            Assert.True(final.StateWrites >= 1);
            Assert.Equal(10L * deliveries, (await segment.GetMatrixAsync(null)).Matrix.Total);
        }
        finally
        {
            await cluster.StopAllSilosAsync();
            await cluster.DisposeAsync();
        }
    }

    private static async Task<SegmentMatrixState> ReadAsync(IGrainStorage storage, GrainId grainId)
    {
        var state = new GrainState<SegmentMatrixState>(new SegmentMatrixState());
        await storage.ReadStateAsync("matrix", grainId, state);
        return state.State ?? throw new InvalidOperationException("Nothing stored for the segment.");
    }
}
