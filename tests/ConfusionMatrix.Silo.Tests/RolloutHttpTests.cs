using System.Net;
using System.Text.Json;

namespace ConfusionMatrix.Silo.Tests;

/// <summary>The rollout API an operator, Argo Rollouts or Flagger uses: transitions, audit history and the gate.</summary>
[Collection(SiloCollection.Name)]
public sealed class RolloutHttpTests(SiloProcessFixture fixture)
{
    private readonly SiloApi _api = fixture.Api;

    [Fact]
    public async Task OperatorRollout_IsAudited_AndTheGateFollowsTheState()
    {
        const string model = "rollout-http";
        await _api.RegisterModelAsync(model, ["legit", "fraud"], "fraud", ["region"]);
        var rollout = $"api/v1/models/{model}/rollout";

        var early = await _api.PostJsonAsync($"{rollout}/start-canary", new { version = "v2", weight = 10, actor = "alice" });
        Expect.Status(HttpStatusCode.Conflict, early);

        Assert.Equal(HttpStatusCode.OK, (await _api.PostJsonAsync($"{rollout}/set-stable", new { version = "v1", actor = "alice", reason = "first release" })).Status);
        var started = await _api.PostJsonAsync($"{rollout}/start-canary", new { version = "v2", weight = 10, actor = "alice", reason = "try v2" });
        Expect.Status(HttpStatusCode.OK, started);

        var routing = JsonDocument.Parse((await _api.GetAsync($"{rollout}/routing")).Body).RootElement;
        Assert.Equal("v1", routing.GetProperty("stable").GetString());
        Assert.Equal("v2", routing.GetProperty("canary").GetString());
        Assert.Equal(10, routing.GetProperty("canaryWeightPercent").GetInt32());

        // Nothing judged yet: inconclusive, never a pass. 200 for Argo's jsonPath, 412 for Flagger with strict=true.
        var unjudged = await _api.GetAsync($"{rollout}/gate");
        Expect.Status(HttpStatusCode.OK, unjudged);
        var unjudgedBody = JsonDocument.Parse(unjudged.Body).RootElement;
        Assert.False(unjudgedBody.GetProperty("pass").GetBoolean());
        Assert.True(unjudgedBody.GetProperty("inconclusive").GetBoolean());
        var strictUnjudged = await _api.GetAsync($"{rollout}/gate?strict=true");
        Expect.Status(HttpStatusCode.PreconditionFailed, strictUnjudged);
        Assert.True(JsonDocument.Parse(strictUnjudged.Body).RootElement.GetProperty("inconclusive").GetBoolean());

        Assert.Equal(HttpStatusCode.OK, (await _api.PostJsonAsync($"{rollout}/pause", new { actor = "bob", reason = "looks odd" })).Status);
        var closed = await _api.GetAsync($"{rollout}/gate?strict=true");
        Expect.Status(HttpStatusCode.PreconditionFailed, closed);
        var lenient = await _api.GetAsync($"{rollout}/gate");
        Expect.Status(HttpStatusCode.OK, lenient);
        Assert.False(JsonDocument.Parse(lenient.Body).RootElement.GetProperty("pass").GetBoolean());
        Assert.False(JsonDocument.Parse(lenient.Body).RootElement.GetProperty("inconclusive").GetBoolean());

        var rollback = await _api.PostJsonAsync($"{rollout}/rollback", new { actor = "bob", reason = "abandon v2" });
        Expect.Status(HttpStatusCode.OK, rollback);
        var state = JsonDocument.Parse((await _api.GetAsync(rollout)).Body).RootElement;
        Assert.Equal("rolledBack", state.GetProperty("routing").GetProperty("phase").GetString());
        var history = state.GetProperty("history").EnumerateArray().ToList();
        Assert.Equal(["set-stable", "start-canary", "pause", "rollback"], history.Select(h => h.GetProperty("action").GetString()));
        Assert.Equal("bob", history[^1].GetProperty("actor").GetString());
        Assert.Equal("abandon v2", history[^1].GetProperty("reason").GetString());

        // The same history a page at a time: each page says where the next starts.
        var first = await _api.GetAsync($"{rollout}/history?limit=3");
        Expect.Status(HttpStatusCode.OK, first);
        Assert.Equal(["set-stable", "start-canary", "pause"], first.Json.GetProperty("transitions").EnumerateArray().Select(t => t.GetProperty("action").GetString()));
        var next = first.Json.GetProperty("next").GetInt64();
        var second = await _api.GetAsync($"{rollout}/history?after={next}&limit=3");
        Assert.Equal(["rollback"], second.Json.GetProperty("transitions").EnumerateArray().Select(t => t.GetProperty("action").GetString()));
        Assert.Equal(JsonValueKind.Null, second.Json.GetProperty("next").ValueKind);
        Assert.Equal(0, second.Json.GetProperty("dropped").GetInt64());
    }

    [Fact]
    public async Task VerdictsWithUnjudgedComparisons_Serialise_AndTheGateStaysInconclusive()
    {
        const string model = "rollout-unjudged";
        await _api.RegisterModelAsync(model, ["legit", "fraud"], "fraud", []);
        var rollout = $"api/v1/models/{model}/rollout";
        Assert.Equal(HttpStatusCode.OK, (await _api.PostJsonAsync($"{rollout}/set-stable", new { version = "v1", actor = "alice" })).Status);
        Assert.Equal(HttpStatusCode.OK, (await _api.PostJsonAsync($"{rollout}/start-canary", new { version = "v2", weight = 50, actor = "alice" })).Status);

        // Every prediction is a correctly classified legit: no comparison has the expected cells to be judged.
        foreach (var version in (string[])["v1", "v2"])
        {
            var posted = await _api.PostPredictionsAsync(Enumerable.Range(0, 300).Select(i => new Prediction($"{version}-{i}", model, version, "legit", "legit")));
            Expect.Status(HttpStatusCode.Accepted, posted);
            await _api.WaitForTotalAsync(model, version, "all", 300);
        }

        var evaluated = await _api.PostJsonAsync($"api/v1/models/{model}/drift/evaluate", new { });
        Expect.Status(HttpStatusCode.OK, evaluated);
        var canary = evaluated.Json.GetProperty("verdicts").EnumerateArray().Single(v => v.GetProperty("version").GetString() == "v2");
        Assert.Equal("insufficient_evidence", canary.GetProperty("decision").GetString());
        Assert.Equal(JsonValueKind.Null, canary.GetProperty("classDeltas")[0].GetProperty("upperBound").ValueKind);

        var gate = await _api.GetAsync($"{rollout}/gate?strict=true");
        Expect.Status(HttpStatusCode.PreconditionFailed, gate);
        var body = JsonDocument.Parse(gate.Body).RootElement;
        Assert.False(body.GetProperty("pass").GetBoolean());
        Assert.True(body.GetProperty("inconclusive").GetBoolean());
    }

    [Fact]
    public async Task BadRolloutRequests_GetProblemDetails_Never500()
    {
        const string model = "rollout-bad";
        await _api.RegisterModelAsync(model, ["a", "b"], null, []);
        var rollout = $"api/v1/models/{model}/rollout";
        var cases = new (string Path, object Body, HttpStatusCode Expected)[]
        {
            ($"{rollout}/jump", new { }, HttpStatusCode.NotFound),
            ($"{rollout}/set-stable", new { }, HttpStatusCode.BadRequest),
            ($"{rollout}/set-stable", new { version = "a/b" }, HttpStatusCode.BadRequest),
            ($"{rollout}/promote", new { }, HttpStatusCode.Conflict),
            ($"{rollout}/resume", new { }, HttpStatusCode.Conflict),
        };
        foreach (var (path, body, expected) in cases)
        {
            var response = await _api.PostJsonAsync(path, body);
            Expect.Status(expected, response, path);
            Assert.Contains("detail", response.Body);
        }

        // The refusals come from the grains as exceptions; one handler answers them as problem details.
        var conflict = await _api.PostJsonAsync($"{rollout}/pause", new { });
        Assert.Equal("application/problem+json", conflict.ContentType);
        Assert.Equal(409, conflict.Json.GetProperty("status").GetInt32());
        Assert.Contains("phase is Empty", conflict.Json.GetProperty("detail").GetString());

        // A segment is "all" or "dimension=value".
        var badSegment = await _api.GetAsync(SiloApi.MatrixPath(model, "v1", "region"));
        Expect.Status(HttpStatusCode.BadRequest, badSegment);
        Assert.Contains("dimension=value", badSegment.Json.GetProperty("detail").GetString());
        var badLimit = await _api.GetAsync($"{rollout}/history?limit=0");
        Expect.Status(HttpStatusCode.BadRequest, badLimit);

        var badPolicy = await _api.PutJsonAsync($"api/v1/models/{model}/drift/policy", new { alpha = 0.9 });
        Expect.Status(HttpStatusCode.BadRequest, badPolicy);
        Assert.Contains("Alpha", badPolicy.Body);
        var drift = await _api.GetAsync($"api/v1/models/{model}/drift");
        Expect.Status(HttpStatusCode.OK, drift);
    }
}
