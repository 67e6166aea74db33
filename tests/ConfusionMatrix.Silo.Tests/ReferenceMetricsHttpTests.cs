using System.Globalization;
using System.Net;
using System.Text.Json;

namespace ConfusionMatrix.Silo.Tests;

/// <summary>Every oracle case, sent through HTTP and the prediction-log stream, must read back with sklearn's numbers.</summary>
[Collection(SiloCollection.Name)]
public sealed class ReferenceMetricsHttpTests(SiloProcessFixture fixture)
{
    private const int MaxPerRequest = 20_000;
    private const string Version = "v1";
    private static readonly string[] Shards = ["s0", "s1", "s2"];

    private readonly SiloApi _api = fixture.Api;

    public static IEnumerable<object[]> CaseNames() => ReferenceData.CaseNames();

    [Theory]
    [MemberData(nameof(CaseNames))]
    public async Task ReferenceCase_ReadsBackWithTheOracleMetrics_OverallAndPerShard(string source, string caseName)
    {
        var c = ReferenceData.LabelledCase(source, caseName);
        var n = c.Actual.Length;
        Assert.Equal(n, c.Predicted.Length);
        // Both oracles name their cases alike; the source keeps their models apart in the one silo.
        var model = $"{c.Source}-{c.Name}";
        var positive = c.Classes.Length == 2 ? c.Classes[1] : null;

        var definition = await _api.RegisterModelAsync(model, c.Classes, positive, ["shard"]);
        Assert.Equal(model, definition.GetProperty("model").GetString());
        Assert.Equal(c.Classes, definition.GetProperty("classes").EnumerateArray().Select(e => e.GetString()!));
        Assert.Equal(positive, definition.GetProperty("positiveClass").GetString());
        Assert.Equal(["shard"], definition.GetProperty("segmentDimensions").EnumerateArray().Select(e => e.GetString()!));

        // At least two requests whenever there are two predictions, so that both body formats carry part of every case.
        var chunk = Math.Clamp((n + 1) / 2, 1, MaxPerRequest);
        var now = DateTimeOffset.UtcNow;
        var request = 0;
        for (var start = 0; start < n; start += chunk, request++)
        {
            var count = Math.Min(chunk, n - start);
            var predictions = Enumerable.Range(start, count).Select(i => new Prediction(
                $"{model}-{i}",
                model,
                Version,
                c.Predicted[i],
                c.Actual[i],
                Score: (i % 100) / 100.0,
                // Half carry an explicit timestamp a little in the past, half rely on the server's clock.
                Timestamp: i % 2 == 0 ? now.AddSeconds(-(i % 50)).ToString("O", CultureInfo.InvariantCulture) : null,
                Segments: new Dictionary<string, string> { ["shard"] = Shards[i % 3] }));
            var response = request % 2 == 0
                ? await _api.PostPredictionsAsync(predictions)
                : await _api.PostPredictionsNdjsonAsync(predictions);
            Expect.Status(HttpStatusCode.Accepted, response);
            var body = response.Json;
            Expect.Equal(count, body.GetProperty("accepted").GetInt32(), $"request {request} of {model}: {response}");
            Assert.Equal(0, body.GetProperty("rejectedCount").GetInt32());
            Assert.Empty(body.GetProperty("rejected").EnumerateArray());
        }

        Assert.True(request >= Math.Min(n, 2), $"{model} was sent in {request} request(s).");

        var expected = c.Expected;
        var expectedTotal = expected.GetProperty("total").GetInt64();
        Assert.Equal(n, expectedTotal);

        var all = await _api.WaitForTotalAsync(model, Version, "all", expectedTotal);
        Assert.Equal(model, all.GetProperty("model").GetString());
        Assert.Equal(Version, all.GetProperty("version").GetString());
        Assert.Equal("all", all.GetProperty("segment").GetString());
        Assert.Equal("all", all.GetProperty("window").GetString());
        Assert.Equal(c.Classes, all.GetProperty("classes").EnumerateArray().Select(e => e.GetString()!));
        Assert.True(all.GetProperty("batchesApplied").GetInt64() >= request, $"batchesApplied {all.GetProperty("batchesApplied")} < {request} requests");
        AssertMatchesOracle(expected, c.Classes, all, $"{model}/all");

        // The same predictions are all recent, so the 24h window must hold exactly what all-time holds.
        AssertMatchesOracle(expected, c.Classes, await _api.GetMatrixAsync(model, Version, "all", "24h"), $"{model}/all?window=24h");

        var expectedSegments = new List<string> { "all" };
        for (var shard = 0; shard < 3; shard++)
        {
            var counts = LocalCounts(c, i => i % 3 == shard);
            var total = counts.Sum(r => r.Sum());
            if (total == 0)
            {
                continue;
            }

            var segment = $"shard={Shards[shard]}";
            expectedSegments.Add(segment);
            var matrix = await _api.WaitForTotalAsync(model, Version, segment, total);
            Assert.Equal(segment, matrix.GetProperty("segment").GetString());
            Expect.SameCounts(counts, Expect.Counts(matrix), $"{model}/{segment}");
            Assert.Equal(total, matrix.GetProperty("total").GetInt64());
            var correct = Enumerable.Range(0, c.Classes.Length).Sum(k => counts[k][k]);
            Expect.Close((double)correct / total, matrix.GetProperty("metrics").GetProperty("accuracy").GetDouble(), $"{model}/{segment} accuracy");
        }

        // The catalog lists the version and every segment that received predictions.
        expectedSegments.Sort(StringComparer.Ordinal);
        var catalog = await Eventually.MatchesAsync(
            async () => (await _api.GetAsync($"api/v1/models/{SiloApi.Path(model)}")).Json,
            json => json.GetProperty("versions").TryGetProperty(Version, out var segments)
                && segments.EnumerateArray().Select(s => s.GetString()!).SequenceEqual(expectedSegments),
            $"catalog of {model} listing {string.Join(", ", expectedSegments)}");
        Assert.Equal(positive, catalog.GetProperty("definition").GetProperty("positiveClass").GetString());
    }

    private static long[][] LocalCounts(ReferenceCase c, Func<int, bool> include)
    {
        var index = c.Classes.Select((name, i) => (name, i)).ToDictionary(p => p.name, p => p.i, StringComparer.Ordinal);
        var counts = c.Classes.Select(_ => new long[c.Classes.Length]).ToArray();
        for (var i = 0; i < c.Actual.Length; i++)
        {
            if (include(i))
            {
                counts[index[c.Actual[i]]][index[c.Predicted[i]]]++;
            }
        }

        return counts;
    }

    private static void AssertMatchesOracle(JsonElement expected, string[] classes, JsonElement matrix, string what)
    {
        var expectedCounts = expected.GetProperty("counts").EnumerateArray()
            .Select(r => r.EnumerateArray().Select(v => v.GetInt64()).ToArray()).ToArray();
        Expect.SameCounts(expectedCounts, Expect.Counts(matrix), what);
        Assert.Equal(expected.GetProperty("total").GetInt64(), matrix.GetProperty("total").GetInt64());

        var m = matrix.GetProperty("metrics");
        foreach (var name in new[] { "accuracy", "balancedAccuracy", "mcc", "cohenKappa" })
        {
            Expect.Close(expected.GetProperty(name).GetDouble(), m.GetProperty(name).GetDouble(), $"{what} {name}");
        }

        var perClass = m.GetProperty("perClass");
        Assert.Equal(classes.Order(StringComparer.Ordinal), perClass.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal));
        foreach (var cls in classes)
        {
            var e = expected.GetProperty("perClass").GetProperty(cls);
            var a = perClass.GetProperty(cls);
            foreach (var name in new[] { "tp", "fp", "fn", "tn", "support" })
            {
                Expect.Equal(e.GetProperty(name).GetInt64(), a.GetProperty(name).GetInt64(), $"{what} {cls}.{name}");
            }

            foreach (var name in new[] { "precision", "recall", "f1" })
            {
                Expect.Close(e.GetProperty(name).GetDouble(), a.GetProperty(name).GetDouble(), $"{what} {cls}.{name}");
            }
        }

        foreach (var average in new[] { "macro", "micro", "weighted" })
        {
            foreach (var name in new[] { "precision", "recall", "f1" })
            {
                Expect.Close(
                    expected.GetProperty(average).GetProperty(name).GetDouble(),
                    m.GetProperty(average).GetProperty(name).GetDouble(),
                    $"{what} {average}.{name}");
            }
        }
    }
}
