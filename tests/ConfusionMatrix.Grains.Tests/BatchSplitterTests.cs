using ConfusionMatrix.Abstractions;

namespace ConfusionMatrix.Grains.Tests;

public sealed class BatchSplitterTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 26, 10, 0, 0, TimeSpan.Zero);

    private static readonly ModelDefinition Model = new("m", ["neg", "pos"], "pos", ["region", "channel"], Now);

    [Fact]
    public void Split_PutsEveryGoodPredictionInAllAndInOneSegmentPerDimension()
    {
        var b = new PredictionBatchBuilder("m", "v1");
        b.Add("pos", "pos", Now, [new("region", "EU"), new("channel", "web")]);
        b.Add("pos", "neg", Now, [new("region", "US")]);
        b.Add("neg", "neg", Now, [new("region", "EU")]);
        b.Add("neg", "pos", Now);

        var split = BatchSplitter.Split(b.Build("p", 1), Model, Now);

        Assert.Equal(4, split.Accepted);
        Assert.Empty(split.RejectedByReason);
        var bySegment = split.Segments.ToDictionary(s => s.Segment, s => s.Cells);
        Assert.Equal(["all", "region=EU", "region=US", "channel=web"], split.Segments.Select(s => s.Segment));
        Assert.Equal([0, 1, 2, 3], bySegment["all"]);   // cell = actual * 2 + predicted, one entry per (bucket, cell)
        Assert.Equal([0, 3], bySegment["region=EU"]);
        Assert.Equal([2], bySegment["region=US"]);
        Assert.Equal([3], bySegment["channel=web"]);
        Assert.All(split.Segments, s => Assert.Equal(s.Cells.Length, s.EventTimeUtcTicks.Length));
        Assert.All(split.Segments, s => Assert.All(s.Counts, c => Assert.Equal(1, c)));
    }

    [Fact]
    public void Split_CountsPredictionsPerMinuteBucketAndCell_KeepingFutureTimesExact()
    {
        var b = new PredictionBatchBuilder("m", "v1");
        var earlier = Now.AddMinutes(-3);
        for (var i = 0; i < 50; i++)
        {
            // 50 within one minute, two cells; seconds vary so only the bucket can make them equal.
            b.Add(i % 5 == 0 ? "neg" : "pos", "pos", earlier.AddSeconds(i), [new("region", i % 2 == 0 ? "EU" : "US")]);
        }

        b.Add("pos", "pos", Now.AddMinutes(-1).AddSeconds(59.5));
        b.Add("pos", "pos", Now.AddSeconds(30));   // ahead of the clock: stays exact for the segment's skew allowance

        var split = BatchSplitter.Split(b.Build("p", 1), Model, Now);

        Assert.Equal(52, split.Accepted);
        var all = split.Segments.Single(s => s.Segment == Segments.All);
        var entries = all.EventTimeUtcTicks.Select((t, i) => (t, all.Cells[i], all.Counts[i])).OrderBy(e => e.t).ThenBy(e => e.Item2).ToList();
        Assert.Equal(
            [
                (earlier.UtcTicks, 1, 10),
                (earlier.UtcTicks, 3, 40),
                (Now.AddMinutes(-1).UtcTicks, 3, 1),
                (Now.AddSeconds(30).UtcTicks, 3, 1),
            ],
            entries);
        Assert.Equal(52, split.Segments.Where(s => s.Segment == Segments.All).Sum(s => s.Counts.Sum()));
        Assert.Equal(25, split.Segments.Single(s => s.Segment == "region=EU").Counts.Sum());
        Assert.Equal(25, split.Segments.Single(s => s.Segment == "region=US").Counts.Sum());
    }

    [Fact]
    public void Split_ManyClassesAndMinutes_CountsAsGroupingEveryPredictionWould()
    {
        // 300 classes over 12 minutes: past the dense counter and the linear bucket lookup.
        var classes = Enumerable.Range(0, 300).Select(c => $"c{c}").ToArray();
        var model = new ModelDefinition("m", [.. classes], "c1", ["region"], Now);
        var random = new Random(11);
        var b = new PredictionBatchBuilder("m", "v1");
        var rows = new List<(int Cell, long Ticks, string Region)>();
        for (var i = 0; i < 2000; i++)
        {
            var (actual, predicted) = (random.Next(300), random.Next(300));
            var time = Now.AddSeconds(-random.Next(12 * 60));
            var region = random.Next(2) == 0 ? "EU" : "US";
            b.Add(classes[actual], classes[predicted], time, [new("region", region)]);
            rows.Add(((actual * 300) + predicted, time.UtcTicks - (time.UtcTicks % TimeSpan.TicksPerMinute), region));
        }

        var split = BatchSplitter.Split(b.Build("p", 1), model, Now);

        static List<(long, int, int)> Sorted(IEnumerable<(long Ticks, int Cell, int Count)> entries) =>
            [.. entries.OrderBy(e => e.Ticks).ThenBy(e => e.Cell)];
        List<(long, int, int)> Expected(Func<(int Cell, long Ticks, string Region), bool> filter) =>
            Sorted(rows.Where(filter).GroupBy(r => (r.Ticks, r.Cell)).Select(g => (g.Key.Ticks, g.Key.Cell, g.Count())));
        List<(long, int, int)> Actual(string segment)
        {
            var share = split.Segments.Single(s => s.Segment == segment);
            return Sorted(share.Cells.Select((c, i) => (share.EventTimeUtcTicks[i], c, share.Counts[i])));
        }

        Assert.Equal(Expected(_ => true), Actual(Segments.All));
        Assert.Equal(Expected(r => r.Region == "EU"), Actual("region=EU"));
        Assert.Equal(Expected(r => r.Region == "US"), Actual("region=US"));
    }

    [Fact]
    public void Split_RejectsOnlyTheBadPredictions()
    {
        var b = new PredictionBatchBuilder("m", "v1");
        b.Add("pos", "dog", Now);
        b.Add("pos", "pos", Now.AddMinutes(6));
        b.Add("pos", "pos", Now.AddMinutes(4));
        b.Add("neg", "neg", Now, [new("region", "")]);
        b.Add("neg", "neg", Now, [new("tier", "gold")]);

        var split = BatchSplitter.Split(b.Build("p", 1), Model, Now);

        Assert.Equal(2, split.Accepted);
        Assert.Equal(1, split.RejectedByReason[RejectionReasons.UnknownClass]);
        Assert.Equal(1, split.RejectedByReason[RejectionReasons.BadTimestamp]);
        Assert.Equal(1, split.RejectedByReason[RejectionReasons.EmptySegmentValue]);
        Assert.Equal(1, split.IgnoredDimensionValues);
        Assert.Equal([3, 0], split.Segments.Single().Cells);
    }

    [Fact]
    public void Split_TrustsTheRowsOfABatchCheckedAgainstTheDefinitionAndMapsNoLabels()
    {
        // Built at the edge: labels are the classes in order, rows added by class index.
        var b = new PredictionBatchBuilder(Model, "v1");
        b.AddRow(1, 1, Now.UtcTicks, "a", null);
        b.AddSegment("region", "EU");
        b.AddRow(0, 1, Now.UtcTicks, "b", 0.5);
        b.AddSegment("region", "US");
        b.AddRow(PredictionBatch.NoActual, 0, Now.UtcTicks, "c", null);
        var batch = b.Build("p", 1);
        Assert.True(batch.IsValidatedFor(Model.Classes));

        var trusted = BatchSplitter.Split(batch, Model, Now);
        var checkedAgain = BatchSplitter.Split(batch with { ValidatedAgainst = null }, Model, Now);
        Assert.Equal(3, trusted.Accepted);
        Assert.Equal(checkedAgain.Accepted, trusted.Accepted);
        Assert.Equal(checkedAgain.Segments.Select(s => (s.Segment, string.Join(",", s.Cells))), trusted.Segments.Select(s => (s.Segment, string.Join(",", s.Cells))));
        var all = trusted.Segments.Single(s => s.Segment == "all");
        Assert.Equal([(1, 1), (3, 1)], all.Cells.Zip(all.Counts).OrderBy(c => c.First).ToArray());
        Assert.Equal(0, Assert.Single(trusted.Pending).Predicted);

        // A timestamp the router would refuse is not re-checked in a trusted batch, and is in any other.
        var late = batch with { TimestampUtcTicks = [Now.AddHours(1).UtcTicks, Now.UtcTicks, Now.UtcTicks] };
        Assert.Equal(3, BatchSplitter.Split(late, Model, Now).Accepted);
        Assert.Equal(1, BatchSplitter.Split(late with { ValidatedAgainst = null }, Model, Now).RejectedByReason[RejectionReasons.BadTimestamp]);

        // Labels that are not the definition's classes in order are mapped and checked, whatever the batch says.
        var reordered = new PredictionBatchBuilder("m", "v1");
        reordered.Add("pos", "neg", Now);
        var claimed = reordered.Build("p", 2) with { ValidatedAgainst = Now };
        Assert.False(claimed.IsValidatedFor(Model.Classes));
        Assert.Equal([2], BatchSplitter.Split(claimed, Model, Now).Segments.Single().Cells);
    }

    [Fact]
    public void ValidateShape_FindsInconsistentColumns()
    {
        var ok = new PredictionBatch("m", "v1", "p", 1, ["neg"], [0], [0], [Now.UtcTicks], [], [], []);
        Assert.Null(ok.ValidateShape());
        Assert.NotNull((ok with { Predicted = [] }).ValidateShape());
        Assert.NotNull((ok with { Actual = [1] }).ValidateShape());
        Assert.NotNull((ok with { Dimensions = ["region"] }).ValidateShape());
        Assert.NotNull((ok with { Dimensions = ["region"], SegmentValueIndex = [3] }).ValidateShape());
    }
}
