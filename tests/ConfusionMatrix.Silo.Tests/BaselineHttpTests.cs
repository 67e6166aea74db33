using System.Net;
using System.Text.Json;

namespace ConfusionMatrix.Silo.Tests;

/// <summary>Holdout baselines: set, read back, refuse wrong shapes, clear.</summary>
[Collection(SiloCollection.Name)]
public sealed class BaselineHttpTests(SiloProcessFixture fixture)
{
    private readonly SiloApi _api = fixture.Api;

    [Fact]
    public async Task HoldoutBaseline_RoundTrips_AndCanBeCleared()
    {
        const string model = "baseline-roundtrip";
        await _api.RegisterModelAsync(model, ["x", "y", "z"], null, ["region"]);
        var path = SiloApi.BaselinePath(model, "v3", "region=EU");
        Assert.Contains("region%3DEU", path, StringComparison.Ordinal);

        var before = await _api.GetAsync(path);
        Expect.Status(HttpStatusCode.OK, before);
        Assert.Equal("none", before.Json.GetProperty("kind").GetString());
        Assert.Equal(0, before.Json.GetProperty("total").GetInt64());

        long[][] counts = [[5, 1, 0], [0, 4, 2], [1, 0, 7]];
        var put = await _api.PutJsonAsync(path, new { counts });
        Expect.Status(HttpStatusCode.OK, put);
        AssertHoldout(put.Json, counts, model);

        var get = await _api.GetAsync(path);
        Expect.Status(HttpStatusCode.OK, get);
        AssertHoldout(get.Json, counts, model);
        Assert.Equal(put.Json.GetProperty("setAt").GetDateTimeOffset(), get.Json.GetProperty("setAt").GetDateTimeOffset());

        // Another segment of the same version has its own (absent) baseline.
        Assert.Equal("none", (await _api.GetAsync(SiloApi.BaselinePath(model, "v3", "all"))).Json.GetProperty("kind").GetString());

        var delete = await _api.DeleteAsync(path);
        Expect.Status(HttpStatusCode.NoContent, delete);
        var after = await _api.GetAsync(path);
        Assert.Equal("none", after.Json.GetProperty("kind").GetString());
        Assert.Equal(JsonValueKind.Null, after.Json.GetProperty("counts").ValueKind);
    }

    public static TheoryData<string, string> WrongShapes() => new()
    {
        { """{"counts":[[1,0],[0,1]]}""", "3x3" },
        { """{"counts":[[1,0,0],[0,1,0],[0,0,1],[1,1,1]]}""", "3x3" },
        { """{"counts":[[1,0,0],[0,1],[0,0,1]]}""", "3x3" },
        { """{"counts":[[1,0,0],null,[0,0,1]]}""", "3x3" },
        { """{"counts":[]}""", "3x3" },
        { """{}""", "3x3" },
        { """{"counts":[[1,0,0],[0,-1,0],[0,0,1]]}""", "negative" },
        { """{"counts":[[0,0,0],[0,0,0],[0,0,0]]}""", "at least one" },
    };

    [Theory]
    [MemberData(nameof(WrongShapes))]
    public async Task BaselineOfTheWrongShape_IsA400Problem_AndChangesNothing(string body, string detail)
    {
        const string model = "baseline-shapes";
        await _api.RegisterModelAsync(model, ["x", "y", "z"], null, []);
        var path = SiloApi.BaselinePath(model, "v1", "all");
        var response = await _api.SendRawAsync(HttpMethod.Put, path, body);
        Expect.Problem(response, HttpStatusCode.BadRequest, detail);
        Assert.Equal("none", (await _api.GetAsync(path)).Json.GetProperty("kind").GetString());
    }

    private static void AssertHoldout(JsonElement json, long[][] counts, string model)
    {
        Assert.Equal("holdout", json.GetProperty("kind").GetString());
        Assert.Equal(model, json.GetProperty("model").GetString());
        Assert.Equal("v3", json.GetProperty("version").GetString());
        Assert.Equal("region=EU", json.GetProperty("segment").GetString());
        Assert.Equal(["x", "y", "z"], json.GetProperty("classes").EnumerateArray().Select(e => e.GetString()!));
        Expect.SameCounts(counts, Expect.Counts(json), "baseline");
        Assert.Equal(counts.Sum(r => r.Sum()), json.GetProperty("total").GetInt64());
        Assert.Equal(JsonValueKind.String, json.GetProperty("setAt").ValueKind);
    }
}
