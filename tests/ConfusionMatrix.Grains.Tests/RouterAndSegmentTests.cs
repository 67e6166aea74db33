using ConfusionMatrix.Abstractions;
using static ConfusionMatrix.Tests.Shared.ClusterTestHelpers;

namespace ConfusionMatrix.Grains.Tests;

/// <summary>Direct grain calls: the path an inference service uses, plus windows, baselines and the registry.</summary>
[Collection(ClusterCollection.Name)]
public sealed class RouterAndSegmentTests(ClusterFixture fixture)
{
    [Fact]
    public async Task Ingest_RejectsBadPredictionsAndCountsEveryGoodOne()
    {
        var model = UniqueModel("ingest");
        await RegisterAsync(fixture.Client, model, ["legit", "fraud"], "region");
        var now = ClusterFixture.Time.GetUtcNow();
        var b = new PredictionBatchBuilder(model, "v2");
        b.Add("fraud", "fraud", now, [new("region", "EU")]);
        b.Add("fraud", "legit", now, [new("region", "EU")]);
        b.Add("cat", "legit", now);                                    // unknown class
        b.Add("legit", "legit", now.AddHours(1));                      // too far in the future
        b.Add("legit", "legit", new DateTimeOffset(1970, 1, 1, 0, 0, 0, TimeSpan.Zero)); // unset timestamp
        b.Add("legit", "fraud", now, [new("region", " ")]);            // blank segment value
        b.Add("legit", "legit", now, [new("tier", "gold")]);           // unregistered dimension: counted, dimension ignored

        var result = await fixture.Client.GetGrain<IVersionRouterGrain>(PredictionLog.VersionKey(model, "v2")).IngestAsync(b.Build("test", 1));

        Assert.Equal(3, result.Accepted);
        Assert.Equal(1, result.RejectedByReason[RejectionReasons.UnknownClass]);
        Assert.Equal(2, result.RejectedByReason[RejectionReasons.BadTimestamp]);
        Assert.Equal(1, result.RejectedByReason[RejectionReasons.EmptySegmentValue]);
        var all = await fixture.Client.GetGrain<ISegmentMatrixGrain>(Segments.MatrixKey(model, "v2", Segments.All)).GetMatrixAsync(null);
        Assert.Equal([[1L, 0L], [1L, 1L]], all.Matrix.ToRows());
        var eu = await fixture.Client.GetGrain<ISegmentMatrixGrain>(Segments.MatrixKey(model, "v2", "region=EU")).GetMatrixAsync(null);
        Assert.Equal([[0L, 0L], [1L, 1L]], eu.Matrix.ToRows());
        var tier = await fixture.Client.GetGrain<ISegmentMatrixGrain>(Segments.MatrixKey(model, "v2", "tier=gold")).GetMatrixAsync(null);
        Assert.Equal(0, tier.Matrix.Total);
    }

    [Fact]
    public async Task MultiPartSegmentBatch_AppliesEachPartOnce()
    {
        var model = UniqueModel("parts");
        var segment = fixture.Client.GetGrain<ISegmentMatrixGrain>(Segments.MatrixKey(model, "v1", Segments.All));
        var now = ClusterFixture.Time.GetUtcNow().UtcTicks;

        // Part p:1 alone, then a delivery of p:1 again (a redelivery), p:2 and q:7 merged into one call.
        await segment.RecordAsync(new SegmentBatch("p:1", 2, [0, 0], [now, now], "p", 1));
        await segment.RecordAsync(new SegmentBatch(
            "p:1", 2, [0, 0, 3, 3, 3, 1], [now, now, now, now, now, now],
            Parts: [new BatchPart("p", 1, 2), new BatchPart("p", 2, 3), new BatchPart("q", 7, 1)]));

        var view = await segment.GetMatrixAsync(null);
        Assert.Equal([[2L, 1L], [0L, 3L]], view.Matrix.ToRows());
        Assert.Equal(3, view.BatchesApplied);

        // The whole merged delivery again: every part is a replay now.
        await segment.RecordAsync(new SegmentBatch(
            "p:1", 2, [0, 0, 3, 3, 3, 1], [now, now, now, now, now, now],
            Parts: [new BatchPart("p", 1, 2), new BatchPart("p", 2, 3), new BatchPart("q", 7, 1)]));
        Assert.Equal([[2L, 1L], [0L, 3L]], (await segment.GetMatrixAsync(null)).Matrix.ToRows());

        // Parts that do not cover the cells are refused whole.
        await Assert.ThrowsAsync<ArgumentException>(() => segment.RecordAsync(new SegmentBatch(
            "r:1", 2, [0, 0, 0], [now, now, now], Parts: [new BatchPart("r", 1, 2)])).AsTask());
        Assert.Equal(6, (await segment.GetMatrixAsync(null)).Matrix.Total);
    }

    [Fact]
    public async Task SegmentCounts_AppliesEachPartOnce_AndMatchesOnePredictionPerCell()
    {
        var model = UniqueModel("counts");
        var counted = fixture.Client.GetGrain<ISegmentMatrixGrain>(Segments.MatrixKey(model, "v1", Segments.All));
        var listed = fixture.Client.GetGrain<ISegmentMatrixGrain>(Segments.MatrixKey(model, "v2", Segments.All));
        var now = ClusterFixture.Time.GetUtcNow();
        var width = TimeSpan.FromMinutes(1).Ticks;
        var minute = now.UtcTicks - (now.UtcTicks % width);
        var earlier = minute - (5 * width);

        // Parts p:1 (2 entries) and q:7 (1 entry): 3 + 2 predictions in cell 3 now and five minutes ago, 4 in cell 1.
        SegmentCounts Delivery() => new(
            "p:1", 2, width, [new CountsPart("p", 1, 2), new CountsPart("q", 7, 1)], [minute, earlier, minute], [3, 3, 1], [3, 2, 4]);
        await counted.RecordCountsAsync(Delivery());
        await counted.RecordCountsAsync(Delivery());   // a redelivery: both parts are replays
        await listed.RecordAsync(new SegmentBatch(
            "p:1", 2, [3, 3, 3, 3, 3, 1, 1, 1, 1], [minute, minute, minute, earlier, earlier, minute, minute, minute, minute], "p", 1));

        var view = await counted.GetMatrixAsync(null);
        Assert.Equal([[0L, 4L], [0L, 5L]], view.Matrix.ToRows());
        Assert.Equal(2, view.BatchesApplied);
        foreach (var window in new TimeSpan?[] { TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(10), TimeSpan.FromHours(1) })
        {
            Assert.Equal((await listed.GetMatrixAsync(window)).Matrix.ToRows(), (await counted.GetMatrixAsync(window)).Matrix.ToRows());
        }

        var range = await counted.GetEventTimeRangeAsync(new DateTimeOffset(earlier, TimeSpan.Zero), new DateTimeOffset(earlier + width, TimeSpan.Zero));
        Assert.Equal(2, range.Matrix.Total);

        // Entries the parts do not cover, counts that are not positive, and times rounded coarser than a minute are refused whole.
        await Assert.ThrowsAsync<ArgumentException>(() => counted.RecordCountsAsync(
            new SegmentCounts("r:1", 2, width, [new CountsPart("r", 1, 1)], [minute, minute], [0, 0], [1, 1])).AsTask());
        await Assert.ThrowsAsync<ArgumentException>(() => counted.RecordCountsAsync(
            new SegmentCounts("r:1", 2, width, [new CountsPart("r", 1, 1)], [minute], [0], [0])).AsTask());
        await Assert.ThrowsAsync<ArgumentException>(() => counted.RecordCountsAsync(
            new SegmentCounts("r:1", 2, 7 * width, [new CountsPart("r", 1, 1)], [minute], [0], [1])).AsTask());
        Assert.Equal(9, (await counted.GetMatrixAsync(null)).Matrix.Total);

        // The refused deliveries left no watermark: r:1 is still accepted.
        await counted.RecordCountsAsync(new SegmentCounts("r:1", 2, width, [new CountsPart("r", 1, 1)], [minute], [0], [1]));
        Assert.Equal(10, (await counted.GetMatrixAsync(null)).Matrix.Total);
    }

    [Fact]
    public async Task Ingest_ForUnregisteredModel_RejectsEverything()
    {
        var model = UniqueModel("unregistered");
        var b = new PredictionBatchBuilder(model, "v1");
        b.Add("a", "b", ClusterFixture.Time.GetUtcNow());
        var result = await fixture.Client.GetGrain<IVersionRouterGrain>(PredictionLog.VersionKey(model, "v1")).IngestAsync(b.Build("test", 1));
        Assert.Equal(0, result.Accepted);
        Assert.Equal(1, result.RejectedByReason[RejectionReasons.UnknownModel]);
    }

    [Fact]
    public async Task Windows_FollowTheApplicationClock()
    {
        var model = UniqueModel("windows");
        await RegisterAsync(fixture.Client, model, ["a", "b"]);
        var segment = fixture.Client.GetGrain<ISegmentMatrixGrain>(Segments.MatrixKey(model, "v1", Segments.All));
        var router = fixture.Client.GetGrain<IVersionRouterGrain>(PredictionLog.VersionKey(model, "v1"));
        var now = ClusterFixture.Time.GetUtcNow();
        var old = new PredictionBatchBuilder(model, "v1");
        for (var i = 0; i < 10; i++)
        {
            old.Add("a", "a", now.AddMinutes(-30));
        }

        var fresh = new PredictionBatchBuilder(model, "v1");
        for (var i = 0; i < 4; i++)
        {
            fresh.Add("b", "a", now.AddSeconds(-10));
        }

        await router.IngestAsync(old.Build("test", 1));
        await router.IngestAsync(fresh.Build("test", 2));

        Assert.Equal(4, (await segment.GetMatrixAsync(TimeSpan.FromMinutes(5))).Matrix.Total);
        Assert.Equal(14, (await segment.GetMatrixAsync(TimeSpan.FromHours(1))).Matrix.Total);
        Assert.Equal(14, (await segment.GetMatrixAsync(null)).Matrix.Total);
    }

    [Fact]
    public async Task HoldoutBaseline_ReplacesRollingBaseline_AndCanBeCleared()
    {
        var model = UniqueModel("baseline");
        await RegisterAsync(fixture.Client, model, ["a", "b"]);
        var segment = fixture.Client.GetGrain<ISegmentMatrixGrain>(Segments.MatrixKey(model, "v1", Segments.All));
        Assert.Equal(BaselineKind.None, (await segment.GetBaselineAsync()).Kind);

        await segment.SetBaselineAsync(new SparseMatrix(2, [0, 3], [90, 10]));
        var holdout = await segment.GetBaselineAsync();
        Assert.Equal(BaselineKind.Holdout, holdout.Kind);
        Assert.Equal([[90L, 0L], [0L, 10L]], holdout.Matrix!.ToRows());

        await segment.ClearBaselineAsync();
        Assert.Equal(BaselineKind.None, (await segment.GetBaselineAsync()).Kind);
    }

    [Fact]
    public async Task Registry_RefusesToChangeClasses_ButAcceptsNewDimensions()
    {
        var model = UniqueModel("registry");
        await RegisterAsync(fixture.Client, model, ["a", "b"], "region");
        var updated = await RegisterAsync(fixture.Client, model, ["a", "b"], "region", "channel");
        Assert.Equal(["region", "channel"], updated.SegmentDimensions.ToArray());
        // The refusal crosses the grain boundary as its own type, which the HTTP API answers with 409.
        var refused = await Assert.ThrowsAsync<ConflictException>(() => RegisterAsync(fixture.Client, model, ["a", "b", "c"]));
        Assert.Contains("[a, b]", refused.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<ArgumentException>(() => RegisterAsync(fixture.Client, model, ["a", "a"]));
    }
}
