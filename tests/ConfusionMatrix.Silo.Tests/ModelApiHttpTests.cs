using System.Globalization;
using System.Net;

namespace ConfusionMatrix.Silo.Tests;

/// <summary>Registration, lookups and windows of the model API.</summary>
[Collection(SiloCollection.Name)]
public sealed class ModelApiHttpTests(SiloProcessFixture fixture)
{
    private readonly SiloApi _api = fixture.Api;

    public static TheoryData<string, string> InvalidDefinitions() => new()
    {
        { """{"classes":["a","b"]}""", "'model'" },
        { """{"model":"has/slash","classes":["a","b"]}""", "'model'" },
        { """{"model":"has=equals","classes":["a","b"]}""", "'model'" },
        { """{"model":"   ","classes":["a","b"]}""", "'model'" },
        { """{"model":"reg-bad","classes":["only"]}""", "'classes'" },
        { """{"model":"reg-bad"}""", "'classes'" },
        { """{"model":"reg-bad","classes":["a","b","a"]}""", "class 'a' is listed twice" },
        { """{"model":"reg-bad","classes":["a"," "]}""", "class name" },
        { """{"model":"reg-bad","classes":["a","b"],"positiveClass":"c"}""", "'positiveClass' 'c'" },
        { """{"model":"reg-bad","classes":["a","b"],"segmentDimensions":["all"]}""", "segment dimension 'all'" },
        { """{"model":"reg-bad","classes":["a","b"],"segmentDimensions":["re/gion"]}""", "segment dimension 're/gion'" },
        { """{"model":"reg-bad","classes":["a","b"],"segmentDimensions":["region","region"]}""", "segment dimension 'region' is listed twice" },
        { "null", "Send {" },
    };

    [Theory]
    [MemberData(nameof(InvalidDefinitions))]
    public async Task InvalidDefinition_IsA400Problem_NamingTheProblem(string body, string detail)
    {
        var response = await _api.SendRawAsync(HttpMethod.Post, "api/v1/models", body);
        Expect.Problem(response, HttpStatusCode.BadRequest, detail);

        // Nothing was stored under the name.
        Assert.Equal(HttpStatusCode.NotFound, (await _api.GetAsync("api/v1/models/reg-bad")).Status);
    }

    [Fact]
    public async Task MalformedRegistrationBody_IsA400()
    {
        var response = await _api.SendRawAsync(HttpMethod.Post, "api/v1/models", """{"model":"reg-malformed","classes":[""");
        Expect.Status(HttpStatusCode.BadRequest, response);
        Assert.Equal(HttpStatusCode.NotFound, (await _api.GetAsync("api/v1/models/reg-malformed")).Status);
    }

    [Fact]
    public async Task ReRegistration_MayChangeDimensions_ButNotClasses()
    {
        const string model = "reg-conflict";
        var first = await _api.RegisterModelAsync(model, ["a", "b"], "b", ["region"]);
        Assert.Equal("b", first.GetProperty("positiveClass").GetString());

        var same = await _api.RegisterModelAsync(model, ["a", "b"], "a", ["region", "device"]);
        Assert.Equal(["region", "device"], same.GetProperty("segmentDimensions").EnumerateArray().Select(e => e.GetString()!));

        var changed = await _api.PostJsonAsync("api/v1/models", new { model, classes = new[] { "a", "b", "c" } });
        Expect.Problem(changed, HttpStatusCode.Conflict, model, "[a, b]");
        var reordered = await _api.PostJsonAsync("api/v1/models", new { model, classes = new[] { "b", "a" } });
        Expect.Problem(reordered, HttpStatusCode.Conflict, model);

        var catalog = await _api.GetAsync($"api/v1/models/{model}");
        Expect.Status(HttpStatusCode.OK, catalog);
        var definition = catalog.Json.GetProperty("definition");
        Assert.Equal(["a", "b"], definition.GetProperty("classes").EnumerateArray().Select(e => e.GetString()!));
        Assert.Equal("a", definition.GetProperty("positiveClass").GetString());
        Assert.Empty(catalog.Json.GetProperty("versions").EnumerateObject());
    }

    [Fact]
    public async Task UnknownModel_IsA404Problem_Everywhere()
    {
        const string model = "never-registered";
        Expect.Problem(await _api.GetAsync($"api/v1/models/{model}"), HttpStatusCode.NotFound, model);
        Expect.Problem(await _api.GetAsync(SiloApi.MatrixPath(model, "v1", "all")), HttpStatusCode.NotFound, model);
        Expect.Problem(await _api.GetAsync(SiloApi.MatrixPath(model, "v1", "all", "1h")), HttpStatusCode.NotFound, model);
        Expect.Problem(await _api.GetAsync(SiloApi.BaselinePath(model, "v1", "all")), HttpStatusCode.NotFound, model);
        Expect.Problem(await _api.PutJsonAsync(SiloApi.BaselinePath(model, "v1", "all"), new { counts = new[] { new[] { 1, 0 }, new[] { 0, 1 } } }), HttpStatusCode.NotFound, model);
    }

    [Theory]
    [InlineData("32d")]
    [InlineData("0m")]
    [InlineData("61m")]
    [InlineData("25h")]
    [InlineData("-5m")]
    [InlineData("five")]
    [InlineData("")]
    public async Task BadWindow_IsA400Problem(string window)
    {
        const string model = "window-bad";
        await _api.RegisterModelAsync(model, ["a", "b"], null, []);
        Expect.Problem(await _api.GetAsync(SiloApi.MatrixPath(model, "v1", "all", window)), HttpStatusCode.BadRequest, "Invalid window", "5m");
    }

    [Fact]
    public async Task Windows_CountOnlyPredictionsInsideThem_AndAnEmptySegmentReadsAsZeros()
    {
        const string model = "window-counts";
        await _api.RegisterModelAsync(model, ["a", "b"], "b", ["region"]);

        var empty = await _api.GetMatrixAsync(model, "v1", "all");
        Expect.SameCounts([[0, 0], [0, 0]], Expect.Counts(empty), "empty matrix");
        Assert.Equal(0, empty.GetProperty("total").GetInt64());
        Assert.Equal(0, empty.GetProperty("metrics").GetProperty("accuracy").GetDouble());

        var now = DateTimeOffset.UtcNow;
        string Ago(TimeSpan t) => now.Subtract(t).ToString("O", CultureInfo.InvariantCulture);
        var predictions = new[]
        {
            new Prediction("w0", model, "v1", "a", "a", Timestamp: Ago(TimeSpan.FromSeconds(10))),
            new Prediction("w1", model, "v1", "b", "a", Timestamp: Ago(TimeSpan.FromSeconds(30))),
            new Prediction("w2", model, "v1", "b", "b", Timestamp: Ago(TimeSpan.FromMinutes(30))),
            new Prediction("w3", model, "v1", "a", "b", Timestamp: Ago(TimeSpan.FromHours(3))),
            new Prediction("w4", model, "v1", "b", "b", Timestamp: Ago(TimeSpan.FromDays(3))),
        };
        var response = await _api.PostPredictionsAsync(predictions);
        Expect.Status(HttpStatusCode.Accepted, response);
        Assert.Equal(5, response.Json.GetProperty("accepted").GetInt32());

        var all = await _api.WaitForTotalAsync(model, "v1", "all", 5);
        Expect.SameCounts([[1, 1], [1, 2]], Expect.Counts(all), "all time");

        foreach (var (window, label, counts) in new (string, string, long[][])[]
        {
            ("5m", "5m", [[1, 1], [0, 0]]),
            ("1h", "1h", [[1, 1], [0, 1]]),
            ("60m", "1h", [[1, 1], [0, 1]]),
            ("24h", "24h", [[1, 1], [1, 1]]),
            ("all", "all", [[1, 1], [1, 2]]),
        })
        {
            var matrix = await _api.GetMatrixAsync(model, "v1", "all", window);
            Assert.Equal(label, matrix.GetProperty("window").GetString());
            Expect.SameCounts(counts, Expect.Counts(matrix), $"window {window}");
            Assert.Equal(counts.Sum(r => r.Sum()), matrix.GetProperty("total").GetInt64());
        }
    }
}
