using ConfusionMatrix.Abstractions;
using Orleans.Streams;
using static ConfusionMatrix.Tests.Shared.ClusterTestHelpers;

namespace ConfusionMatrix.Grains.Tests;

/// <summary>The label join in a cluster: exactly once on every path, expiry on the application clock, bounded shards.</summary>
[Collection(ClusterCollection.Name)]
public sealed class LabelJoinTests(ClusterFixture fixture)
{
    private static readonly string[] Classes = ["legit", "fraud"];

    [Fact]
    public async Task LabelsOnTheLabelStream_JoinPredictions_AndReplaysChangeNothing()
    {
        var model = UniqueModel("join-stream");
        await RegisterAsync(fixture.Client, model, Classes, "region");
        var now = ClusterFixture.Time.GetUtcNow();
        var predictions = new PredictionBatchBuilder(model, "v1");
        for (var i = 0; i < 200; i++)
        {
            predictions.Add(null, i % 4 == 0 ? "fraud" : "legit", now.AddMinutes(-i), [new("region", i % 2 == 0 ? "EU" : "US")], $"id-{i}", 0.3);
        }

        var batch = predictions.Build("producer", 1);
        await PublishAsync(fixture.Client, batch);
        await PublishAsync(fixture.Client, batch); // a redelivery
        var router = fixture.Client.GetGrain<ILabelRouterGrain>(model);
        await Eventually.TrueAsync(async () => (await router.GetStatsAsync()).Pending == 200, "200 predictions waiting");

        var labels = new LabelBatchBuilder(model);
        for (var i = 0; i < 200; i++)
        {
            labels.Add($"id-{i}", i % 3 == 0 ? "fraud" : "legit", now);
        }

        var labelStream = fixture.Client.GetStreamProvider(PredictionLog.StreamProvider)
            .GetStream<LabelBatch>(StreamId.Create(LabelLog.StreamNamespace, model));
        await labelStream.OnNextAsync(labels.Build());
        await labelStream.OnNextAsync(labels.Build()); // replayed: every label is a duplicate now
        await Eventually.TrueAsync(async () => (await router.GetStatsAsync()).Duplicates == 200, "the replay seen as duplicates");

        var all = await WaitForTotalAsync(fixture.Client, model, "v1", Segments.All, 200);
        var expected = new long[2, 2];
        for (var i = 0; i < 200; i++)
        {
            expected[i % 3 == 0 ? 1 : 0, i % 4 == 0 ? 1 : 0]++;
        }

        Assert.Equal([[expected[0, 0], expected[0, 1]], [expected[1, 0], expected[1, 1]]], Rows(all.Matrix, 2));
        Assert.Equal(new long[] { 0, 0 }, all.PendingByPredicted!);
        var eu = await WaitForTotalAsync(fixture.Client, model, "v1", "region=EU", 100);
        Assert.Equal(100, eu.Matrix.Total);
        var stats = await router.GetStatsAsync();
        Assert.Equal(200, stats.Applied);
        Assert.Equal(0, stats.Pending);
        Assert.Equal(0, stats.DeliveriesOutstanding);
    }

    [Fact]
    public async Task PredictionsPastTheirTimeToLive_Expire_AndTheirLateLabelsAreOrphaned()
    {
        var model = UniqueModel("join-ttl");
        await fixture.Client.GetGrain<IModelRegistryGrain>(model).RegisterAsync(
            new ModelDefinition(model, [.. Classes], "fraud", [], ClusterFixture.Time.GetUtcNow(), LabelTtl: TimeSpan.FromDays(2), LabelGracePeriod: TimeSpan.FromMinutes(30)));
        var now = ClusterFixture.Time.GetUtcNow();
        var builder = new PredictionBatchBuilder(model, "v1");
        for (var i = 0; i < 50; i++)
        {
            builder.Add(null, "fraud", now.AddHours(-1), predictionId: $"t-{i}");
        }

        await fixture.Client.GetGrain<IVersionRouterGrain>(PredictionLog.VersionKey(model, "v1")).IngestAsync(builder.Build("direct", 1));
        var segment = fixture.Client.GetGrain<ISegmentMatrixGrain>(Segments.MatrixKey(model, "v1", Segments.All));
        var before = await segment.GetMatrixAsync(null);
        Assert.Equal(new long[] { 0, 50 }, before.PendingByPredicted!);

        // Two days later the label has not come: each prediction moves from pending to expired, at its event time.
        ClusterFixture.Time.Advance(TimeSpan.FromDays(2));
        await Eventually.TrueAsync(async () => (await segment.GetMatrixAsync(null)).ExpiredByPredicted?[1] == 50, "50 predictions expired");
        var after = await segment.GetMatrixAsync(null);
        Assert.Equal(new long[] { 0, 0 }, after.PendingByPredicted!);

        // A label for one of them now has nothing to join: held for the grace period, then orphaned.
        var outcomes = await fixture.Client.GetGrain<ILabelRouterGrain>(model).IngestAsync(new LabelBatch(model, ["fraud"], ["t-1"], [0], [ClusterFixture.Time.GetUtcNow().UtcTicks]));
        Assert.Equal([LabelOutcome.Buffered], outcomes.Outcomes);
        ClusterFixture.Time.Advance(TimeSpan.FromMinutes(31));
        var router = fixture.Client.GetGrain<ILabelRouterGrain>(model);
        await Eventually.TrueAsync(async () => (await router.GetStatsAsync()).Orphaned == 1, "the late label orphaned");
        Assert.Equal(0, (await segment.GetMatrixAsync(null)).Matrix.Total);
        Assert.Equal(50, (await router.GetStatsAsync()).Expired);
    }

    [Fact]
    public async Task Correction_MovesThePredictionOnce_AndAnOlderLabelIsStale()
    {
        var model = UniqueModel("join-correct");
        await RegisterAsync(fixture.Client, model, Classes);
        var now = ClusterFixture.Time.GetUtcNow();
        var builder = new PredictionBatchBuilder(model, "v1");
        builder.Add(null, "legit", now.AddMinutes(-5), predictionId: "c-1");
        await fixture.Client.GetGrain<IVersionRouterGrain>(PredictionLog.VersionKey(model, "v1")).IngestAsync(builder.Build("direct", 1));
        var router = fixture.Client.GetGrain<ILabelRouterGrain>(model);
        LabelBatch Label(string actual, DateTimeOffset at) => new(model, [actual], ["c-1"], [0], [at.UtcTicks]);

        Assert.Equal([LabelOutcome.Applied], (await router.IngestAsync(Label("legit", now))).Outcomes);
        Assert.Equal([LabelOutcome.Corrected], (await router.IngestAsync(Label("fraud", now.AddMinutes(1)))).Outcomes);
        Assert.Equal([LabelOutcome.Duplicate], (await router.IngestAsync(Label("fraud", now.AddMinutes(1)))).Outcomes);
        Assert.Equal([LabelOutcome.Stale], (await router.IngestAsync(Label("legit", now))).Outcomes);

        var all = await fixture.Client.GetGrain<ISegmentMatrixGrain>(Segments.MatrixKey(model, "v1", Segments.All)).GetMatrixAsync(null);
        Assert.Equal([[0L, 0L], [1L, 0L]], Rows(all.Matrix, 2));
        Assert.Equal(1, (await router.GetStatsAsync()).Corrections);
    }

    [Fact]
    public async Task FullShard_EvictsItsOldestPredictionsAsExpired()
    {
        var model = UniqueModel("join-bound");
        await RegisterAsync(fixture.Client, model, Classes);
        var now = ClusterFixture.Time.GetUtcNow();
        var router = fixture.Client.GetGrain<IVersionRouterGrain>(PredictionLog.VersionKey(model, "v1"));
        const int count = 10_000; // four shards of at most 2000 each
        for (var b = 0; b < count / 1000; b++)
        {
            var builder = new PredictionBatchBuilder(model, "v1");
            for (var i = b * 1000; i < (b + 1) * 1000; i++)
            {
                builder.Add(null, "legit", now.AddSeconds(-count + i), predictionId: $"e-{i}");
            }

            await router.IngestAsync(builder.Build("direct", b + 1));
        }

        var stats = await fixture.Client.GetGrain<ILabelRouterGrain>(model).GetStatsAsync();
        Assert.True(stats.Pending <= 4 * 2000, $"pending {stats.Pending}");
        Assert.Equal(count, stats.Pending + stats.Evicted);
        Assert.Equal(stats.Evicted, stats.Expired);
        var all = await fixture.Client.GetGrain<ISegmentMatrixGrain>(Segments.MatrixKey(model, "v1", Segments.All)).GetMatrixAsync(null);
        Assert.Equal(stats.Pending, all.PendingByPredicted![0]);
        Assert.Equal(stats.Evicted, all.ExpiredByPredicted![0]);
    }
}
