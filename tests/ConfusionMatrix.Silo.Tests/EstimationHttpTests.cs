using System.Net;
using System.Text.Json;

namespace ConfusionMatrix.Silo.Tests;

/// <summary>
/// What the API says before the labels are in, over HTTP on a silo process: the label-free comparison of a canary
/// with stable, and the confidence-based estimate whose numbers the test recomputes from the data it sent.
/// </summary>
[Collection(SiloCollection.Name)]
public sealed class EstimationHttpTests(SiloProcessFixture fixture)
{
    private static readonly string[] Classes = ["legit", "fraud"];
    private static readonly string[] Regions = ["EU", "US"];
    private readonly SiloApi _api = fixture.Api;

    [Fact]
    public async Task Estimate_TakesEveryScoredPredictionFromItsScore_AndCountsTheRestAsLogged()
    {
        const string model = "estimate-http";
        await _api.RegisterModelAsync(model, Classes, "fraud", ["region"]);
        var random = new Random(42);

        // Scores are multiples of 1/64 so the float the silo keeps is the double the test sums.
        var waiting = Enumerable.Range(0, 3000).Select(i => Make(random, $"w-{i}")).ToList();
        var logged = Enumerable.Range(0, 500).Select(i => Make(random, $"k-{i}")).ToList();
        Accepted(await _api.PostPredictionsAsync(waiting.Select(r => r.ToPrediction(model, "v1", withActual: false))), waiting.Count);
        Accepted(await _api.PostPredictionsAsync(logged.Select(r => r.ToPrediction(model, "v1", withActual: true))), logged.Count);
        var labelled = waiting.Where((_, i) => i % 3 == 0).ToList();
        var labels = JsonSerializer.SerializeToUtf8Bytes(labelled.Select(r => new { model, predictionId = r.Id, actual = r.Actual }), JsonSerializerOptions.Web);
        Accepted(await _api.SendBytesAsync(labels, "application/json", "api/v1/labels"), labelled.Count);
        await _api.WaitForTotalAsync(model, "v1", "all", logged.Count + labelled.Count);

        foreach (var (segment, pick) in new (string, Func<Rec, bool>)[] { ("all", _ => true), ("region=EU", r => r.Region == "EU") })
        {
            var response = await _api.GetAsync($"api/v1/models/{model}/versions/v1/segments/{Uri.EscapeDataString(segment)}/estimate");
            Expect.Status(HttpStatusCode.OK, response);
            var e = response.Json;
            Assert.True(e.GetProperty("estimate").GetBoolean());
            Assert.Equal("scores", e.GetProperty("calibration").GetString());

            var scored = waiting.Where(pick).ToList();
            var known = logged.Where(pick).ToList();
            var estimated = e.GetProperty("estimated");
            Assert.Equal(scored.Count + known.Count, estimated.GetProperty("predictions").GetInt64());
            Assert.Equal(known.Count, estimated.GetProperty("counted").GetInt64());
            Assert.Equal(scored.Count, estimated.GetProperty("estimatedFromScores").GetInt64());
            Assert.Equal(known.Count + labelled.Count(pick), e.GetProperty("realised").GetProperty("labelled").GetInt64());

            // Expected true positives: predictions logged with their label count as they are; every other scored
            // prediction flagged as fraud adds its score.
            var expectedTp = known.Count(r => r.Actual == "fraud" && r.Predicted == "fraud") + scored.Where(r => r.Predicted == "fraud").Sum(r => r.Score);
            var expectedFn = known.Count(r => r.Actual == "fraud" && r.Predicted == "legit") + scored.Where(r => r.Predicted == "legit").Sum(r => r.Score);
            var cells = estimated.GetProperty("expected");
            Assert.Equal(expectedTp, cells.GetProperty("truePositive").GetDouble(), 6);
            Assert.Equal(expectedFn, cells.GetProperty("falseNegative").GetDouble(), 6);
            var recall = estimated.GetProperty("recall");
            Assert.Equal(expectedTp / (expectedTp + expectedFn), recall.GetProperty("estimate").GetDouble(), 6);
            Assert.True(recall.GetProperty("lower").GetDouble() <= recall.GetProperty("estimate").GetDouble());
            Assert.True(recall.GetProperty("upper").GetDouble() >= recall.GetProperty("estimate").GetDouble());
        }

        var calibrated = await _api.GetAsync($"api/v1/models/{model}/versions/v1/segments/all/estimate?calibration=labelled&maturity=0d");
        Expect.Status(HttpStatusCode.OK, calibrated);
        Assert.Equal(labelled.Count, calibrated.Json.GetProperty("calibrationLabels").GetInt64());
        Assert.Equal("labelled", calibrated.Json.GetProperty("calibration").GetString());

        var young = await _api.GetAsync($"api/v1/models/{model}/versions/v1/segments/all/estimate?calibration=labelled&maturity=7d");
        Assert.Equal(0, young.Json.GetProperty("calibrationLabels").GetInt64());
    }

    [Fact]
    public async Task Estimates_RefuseWhatTheyCannotAnswer_WithAClearProblem()
    {
        await _api.RegisterModelAsync("estimate-three", ["a", "b", "c"], "a", []);
        Expect.Problem(await _api.GetAsync("api/v1/models/estimate-three/versions/v1/segments/all/estimate"), (HttpStatusCode)422, "3 classes");
        await _api.RegisterModelAsync("estimate-bad", Classes, "fraud", []);
        Expect.Problem(await _api.GetAsync("api/v1/models/estimate-bad/versions/v1/segments/all/estimate?calibration=guess"), HttpStatusCode.BadRequest, "calibration");
        Expect.Problem(await _api.GetAsync("api/v1/models/estimate-bad/versions/v1/segments/all/estimate?maturity=soon"), HttpStatusCode.BadRequest, "maturity");
        Expect.Problem(await _api.GetAsync("api/v1/models/estimate-bad/versions/v1/segments/all/estimate?window=5y"), HttpStatusCode.BadRequest);
        Expect.Problem(await _api.GetAsync("api/v1/models/estimate-none/versions/v1/segments/all/estimate"), HttpStatusCode.NotFound, "estimate-none");
        Expect.Problem(await _api.GetAsync("api/v1/models/estimate-bad/early-warning?canary=v2"), HttpStatusCode.BadRequest, "canary");
        Expect.Problem(await _api.GetAsync("api/v1/models/estimate-bad/early-warning?canary=v2&stable=v2"), HttpStatusCode.BadRequest, "canary");
    }

    [Fact]
    public async Task CanaryFlaggingThreeTimesAsMuchFraud_IsFlaggedBeforeAnyLabel_AndALikeOneIsNot()
    {
        const string model = "early-warning-http";
        await _api.RegisterModelAsync(model, Classes, "fraud", ["region"]);
        var random = new Random(7);
        var stable = Enumerable.Range(0, 6000).Select(i => Make(random, $"s-{i}", flagRate: 0.05)).ToList();
        var like = Enumerable.Range(0, 1500).Select(i => Make(random, $"l-{i}", flagRate: 0.05)).ToList();
        var skewed = Enumerable.Range(0, 1500).Select(i => Make(random, $"c-{i}", flagRate: 0.15)).ToList();
        Accepted(await _api.PostPredictionsAsync(stable.Select(r => r.ToPrediction(model, "v1", withActual: false))), stable.Count);
        Accepted(await _api.PostPredictionsAsync(like.Select(r => r.ToPrediction(model, "v2", withActual: false))), like.Count);
        Accepted(await _api.PostPredictionsAsync(skewed.Select(r => r.ToPrediction(model, "v3", withActual: false))), skewed.Count);
        await Eventually.MatchesAsync(
            async () => (await _api.GetAsync($"api/v1/models/{model}/labels")).Json.GetProperty("pending").GetInt64(),
            n => n == stable.Count + like.Count + skewed.Count,
            "every prediction waiting for its label");

        var flagged = (await _api.GetAsync($"api/v1/models/{model}/early-warning?canary=v3&stable=v1")).Json;
        Assert.True(flagged.GetProperty("alwaysValid").GetBoolean());
        var classes = flagged.GetProperty("predictedClasses");
        Assert.Equal(skewed.Count, classes.GetProperty("canaryTotal").GetInt64());
        Assert.Equal(stable.Count, classes.GetProperty("stableTotal").GetInt64());
        Assert.True(classes.GetProperty("shifted").GetBoolean(), classes.ToString());
        var fraud = classes.GetProperty("categories").EnumerateArray().Single(c => c.GetProperty("category").GetString() == "fraud");
        var canaryShare = (double)skewed.Count(r => r.Predicted == "fraud") / skewed.Count;
        var stableShare = (double)stable.Count(r => r.Predicted == "fraud") / stable.Count;
        Assert.Equal(canaryShare, fraud.GetProperty("canaryShare").GetDouble(), 12);
        Assert.Equal(stableShare, fraud.GetProperty("stableShare").GetDouble(), 12);
        Assert.True(fraud.GetProperty("lower").GetDouble() > 0, fraud.ToString());
        Assert.True(flagged.GetProperty("scores").GetProperty("shifted").GetBoolean(), "flagging more fraud moves the scores too");

        var quiet = (await _api.GetAsync($"api/v1/models/{model}/early-warning?canary=v2&stable=v1")).Json;
        Assert.False(quiet.GetProperty("predictedClasses").GetProperty("shifted").GetBoolean(), quiet.ToString());
        Assert.False(quiet.GetProperty("scores").GetProperty("shifted").GetBoolean(), quiet.ToString());
        Assert.All(quiet.GetProperty("predictedClasses").GetProperty("categories").EnumerateArray(), c => Assert.True(c.GetProperty("lower").GetDouble() < 0 && c.GetProperty("upper").GetDouble() > 0));

        var rolling = (await _api.GetAsync($"api/v1/models/{model}/early-warning?canary=v3&stable=v1&window=24h")).Json;
        Assert.False(rolling.GetProperty("alwaysValid").GetBoolean());
    }

    private sealed record Rec(string Id, string Actual, string Predicted, double Score, string Region)
    {
        public Prediction ToPrediction(string model, string version, bool withActual) =>
            new(Id, model, version, Predicted, withActual ? Actual : null, Score, null, new Dictionary<string, string> { ["region"] = Region });
    }

    /// <summary>A fraud score in 1/64 steps; flagged at 0.5; the outcome drawn with the score's probability.</summary>
    private static Rec Make(Random random, string id, double flagRate = 0.1)
    {
        var flagged = random.NextDouble() < flagRate;
        var score = flagged ? (32 + random.Next(32)) / 64.0 : random.Next(32) / 64.0;
        var fraud = random.NextDouble() < score;
        return new Rec(id, fraud ? "fraud" : "legit", flagged ? "fraud" : "legit", score, Regions[random.Next(Regions.Length)]);
    }

    private static void Accepted(ApiResponse response, int count)
    {
        Expect.Status(HttpStatusCode.Accepted, response);
        Expect.Equal(count, response.Json.GetProperty("accepted").GetInt32(), response.ToString());
    }
}
