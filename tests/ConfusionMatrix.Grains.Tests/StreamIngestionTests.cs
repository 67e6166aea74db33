using System.Text.Json;
using ConfusionMatrix.Abstractions;
using static ConfusionMatrix.Tests.Shared.ClusterTestHelpers;

namespace ConfusionMatrix.Grains.Tests;

/// <summary>Batches published to the prediction-log stream come back as exact matrices for <c>all</c> and every segment.</summary>
[Collection(ClusterCollection.Name)]
public sealed class StreamIngestionTests(ClusterFixture fixture)
{
    public static IEnumerable<object[]> Cases() => ReferenceData.CaseNames();

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task ReferenceCase_PublishedInBatches_GivesExactMatrices(string source, string name)
    {
        var c = ReferenceData.Case(source, name);
        var classes = c.GetProperty("classes").EnumerateArray().Select(e => e.GetString()!).ToArray();
        var actual = c.GetProperty("actual").EnumerateArray().Select(e => e.GetString()!).ToArray();
        var predicted = c.GetProperty("predicted").EnumerateArray().Select(e => e.GetString()!).ToArray();
        var expectedAll = ReferenceData.Matrix(c.GetProperty("expected").GetProperty("counts"));
        var model = UniqueModel("stream");
        await RegisterAsync(fixture.Client, model, classes, "region", "channel");

        // Two dimensions: region cycles over three values, channel over two, so segments overlap differently.
        string Region(int i) => (i % 3) switch { 0 => "EU", 1 => "US", _ => "APAC" };
        string Channel(int i) => i % 2 == 0 ? "web" : "app";
        var now = ClusterFixture.Time.GetUtcNow();
        var builder = new PredictionBatchBuilder(model, "v1");
        long sequence = 0;
        for (var i = 0; i < actual.Length; i++)
        {
            builder.Add(actual[i], predicted[i], now.AddSeconds(-(i % 600)), [new("region", Region(i)), new("channel", Channel(i))]);
            if (builder.Count == 1000 || i == actual.Length - 1)
            {
                await PublishAsync(fixture.Client, builder.Build("test", ++sequence));
                builder.Clear();
            }
        }

        var all = await WaitForTotalAsync(fixture.Client, model, "v1", Segments.All, actual.Length);
        Assert.Equal(expectedAll, Rows(all.Matrix, classes.Length));

        var segments = new Dictionary<string, Func<int, bool>>
        {
            ["region=EU"] = i => Region(i) == "EU",
            ["region=US"] = i => Region(i) == "US",
            ["region=APAC"] = i => Region(i) == "APAC",
            ["channel=web"] = i => Channel(i) == "web",
            ["channel=app"] = i => Channel(i) == "app",
        };
        foreach (var (segment, member) in segments)
        {
            var expected = Expected(classes, actual, predicted, member);
            var total = expected.Sum(r => r.Sum());
            if (total == 0)
            {
                continue;
            }

            var view = await WaitForTotalAsync(fixture.Client, model, "v1", segment, total);
            Assert.Equal(expected, Rows(view.Matrix, classes.Length));
        }

        var catalog = await fixture.Client.GetGrain<IModelRegistryGrain>(model).GetCatalogAsync();
        Assert.Contains(Segments.All, catalog.SegmentsByVersion["v1"]);
        Assert.Contains("region=EU", catalog.SegmentsByVersion["v1"]);
    }

    [Fact]
    public async Task PoisonBatch_IsRefusedAndTheStreamKeepsFlowing()
    {
        var model = UniqueModel("poison");
        await RegisterAsync(fixture.Client, model, ["neg", "pos"]);
        var now = ClusterFixture.Time.GetUtcNow();

        // Column lengths disagree: the router must refuse it whole without faulting the subscription.
        var poison = new PredictionBatch(model, "v1", "test", 1, ["neg", "pos"], [0, 1], [0], [now.UtcTicks, now.UtcTicks], [], [], []);
        await PublishAsync(fixture.Client, poison);

        var good = new PredictionBatchBuilder(model, "v1");
        good.Add("pos", "pos", now);
        good.Add("neg", "pos", now);
        await PublishAsync(fixture.Client, good.Build("test", 2));

        var view = await WaitForTotalAsync(fixture.Client, model, "v1", Segments.All, 2);
        Assert.Equal([[0L, 1L], [0L, 1L]], Rows(view.Matrix, 2));
        Assert.Equal(1, view.BatchesApplied);
    }

    private static long[][] Expected(string[] classes, string[] actual, string[] predicted, Func<int, bool> member)
    {
        var k = classes.Length;
        var rows = Enumerable.Range(0, k).Select(_ => new long[k]).ToArray();
        for (var i = 0; i < actual.Length; i++)
        {
            if (member(i))
            {
                rows[Array.IndexOf(classes, actual[i])][Array.IndexOf(classes, predicted[i])]++;
            }
        }

        return rows;
    }
}
