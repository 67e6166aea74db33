using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;

namespace ConfusionMatrix.Silo.Tests;

/// <summary>Bad predictions are refused one by one, with index and reason, and never spoil the good ones beside them.</summary>
[Collection(SiloCollection.Name)]
public sealed class PredictionIntakeHttpTests(SiloProcessFixture fixture)
{
    private static readonly string[] Classes = ["cat", "dog", "bird"];

    private readonly SiloApi _api = fixture.Api;

    [Fact]
    public async Task MixedRequest_AcceptsTheGoodPredictions_AndReportsEachBadOneWithIndexAndReason()
    {
        const string model = "intake-mixed";
        await _api.RegisterModelAsync(model, Classes, "cat", ["region"]);
        var now = DateTimeOffset.UtcNow;
        string Ts(DateTimeOffset t) => t.ToString("O", CultureInfo.InvariantCulture);
        string Good(int i, string actual, string predicted, string region) =>
            SiloApi.ToJson(new Prediction($"good-{i}", model, "v1", predicted, actual, 0.9, Ts(now.AddSeconds(-i)), new Dictionary<string, string> { ["region"] = region }));

        var elements = new List<string>();
        var good = new List<(string Actual, string Predicted, string Region)>();
        var bad = new Dictionary<int, string>();
        void AddGood(string actual, string predicted, string region)
        {
            good.Add((actual, predicted, region));
            elements.Add(Good(elements.Count, actual, predicted, region));
        }

        void AddBad(string reason, string json)
        {
            bad.Add(elements.Count, reason);
            elements.Add(json);
        }

        AddGood("cat", "cat", "EU");
        AddBad("unknown_model", """{"predictionId":"b1","model":"no-such-model","version":"v1","predicted":"cat","actual":"cat"}""");
        AddGood("dog", "cat", "US");
        AddBad("unknown_class", $$"""{"predictionId":"b2","model":"{{model}}","version":"v1","predicted":"horse","actual":"cat"}""");
        AddBad("missing_field", $$"""{"predictionId":"b3","model":"{{model}}","version":"v1","actual":"cat"}""");
        AddGood("bird", "bird", "EU");
        AddBad("bad_timestamp", $$"""{"predictionId":"b4","model":"{{model}}","version":"v1","predicted":"cat","actual":"cat","timestamp":"yesterday-ish"}""");
        AddBad("bad_timestamp", $$"""{"predictionId":"b5","model":"{{model}}","version":"v1","predicted":"cat","actual":"cat","timestamp":"1999-12-31T23:59:59Z"}""");
        AddBad("bad_timestamp", $$"""{"predictionId":"b6","model":"{{model}}","version":"v1","predicted":"cat","actual":"cat","timestamp":"{{Ts(now.AddHours(1))}}"}""");
        AddBad("id_too_long", $$"""{"predictionId":"{{new string('x', 129)}}","model":"{{model}}","version":"v1","predicted":"cat","actual":"cat"}""");
        AddGood("cat", "dog", "EU");
        AddBad("empty_segment_value", $$$"""{"predictionId":"b8","model":"{{{model}}}","version":"v1","predicted":"cat","actual":"cat","segments":{"region":""}}""");
        AddBad("malformed", "42");
        AddBad("missing_field", $$"""{"model":"{{model}}","version":"v1","predicted":"cat","actual":"cat"}""");
        AddGood("dog", "dog", "US");
        AddBad("bad_name", """{"predictionId":"b9","model":"a/b","version":"v1","predicted":"cat","actual":"cat"}""");
        AddBad("bad_timestamp", $$"""{"predictionId":"b10","model":"{{model}}","version":"v1","predicted":"cat","actual":"cat","timestamp":1700000000}""");
        AddBad("malformed", $$"""{"predictionId":"b11","model":"{{model}}","version":"v1","predicted":"cat","actual":"cat","segments":"EU"}""");
        AddBad("malformed", "\"just a string\"");
        AddGood("bird", "dog", "US");

        // Boundaries that must be accepted: a 128-character id, and a timestamp a minute in the future.
        good.Add(("bird", "cat", "EU"));
        elements.Add($$$"""{"predictionId":"{{{new string('y', 128)}}}","model":"{{{model}}}","version":"v1","predicted":"cat","actual":"bird","timestamp":"{{{Ts(now.AddMinutes(1))}}}","segments":{"region":"EU"}}""");

        var response = await _api.SendRawAsync(HttpMethod.Post, "api/v1/predictions", "[" + string.Join(",", elements) + "]");
        Expect.Status(HttpStatusCode.Accepted, response);
        var body = response.Json;
        Expect.Equal(good.Count, body.GetProperty("accepted").GetInt32(), response.ToString());
        Assert.Equal(bad.Count, body.GetProperty("rejectedCount").GetInt32());
        var rejected = body.GetProperty("rejected").EnumerateArray()
            .ToDictionary(r => r.GetProperty("index").GetInt32(), r => r);
        Assert.Equal(bad.Keys.Order(), rejected.Keys.Order());
        foreach (var (index, reason) in bad)
        {
            var r = rejected[index];
            Expect.Equal(reason, r.GetProperty("reason").GetString(), $"element {index}: {r}");
            Assert.False(string.IsNullOrWhiteSpace(r.GetProperty("detail").GetString()), $"element {index} has no detail: {r}");
        }

        Assert.Equal("b2", rejected.Single(kv => bad[kv.Key] == "unknown_class").Value.GetProperty("predictionId").GetString());
        Assert.StartsWith("xxxx", rejected.Single(kv => bad[kv.Key] == "id_too_long").Value.GetProperty("predictionId").GetString());

        var all = await _api.WaitForTotalAsync(model, "v1", "all", good.Count);
        Expect.SameCounts(Count(good), Expect.Counts(all), $"{model}/all");
        foreach (var region in new[] { "EU", "US" })
        {
            var only = good.Where(g => g.Region == region).ToList();
            var matrix = await _api.WaitForTotalAsync(model, "v1", $"region={region}", only.Count);
            Expect.SameCounts(Count(only), Expect.Counts(matrix), $"{model}/region={region}");
        }

        // The rejection counter carries the reason; the model label is kept for registered models only.
        // Every refused object that names this (registered) model carries its label, whatever was wrong with it.
        var expectedForModel = bad.Values
            .Where(r => r is "unknown_class" or "bad_timestamp" or "empty_segment_value" or "missing_field" or "id_too_long")
            .GroupBy(r => r).ToDictionary(g => g.Key, g => (double)g.Count());
        expectedForModel["malformed"] = 1; // the object with bad segments named its model; the bare values did not
        var text = await Eventually.MatchesAsync(
            async () => (await _api.GetAsync("metrics")).Body,
            t => expectedForModel.All(kv => Prometheus.Value(t, "confusionmatrix_predictions_rejected_total", ("model", model), ("reason", kv.Key)) == kv.Value)
                && Prometheus.Value(t, "confusionmatrix_predictions_accepted_total", ("model", model)) == good.Count,
            $"/metrics showing the rejections and acceptances of {model}");
        foreach (var reason in new[] { "unknown_model", "malformed", "bad_name" })
        {
            Assert.True(
                Prometheus.Value(text, "confusionmatrix_predictions_rejected_total", ("model", "unknown"), ("reason", reason)) >= 1,
                $"no confusionmatrix_predictions_rejected_total series for reason {reason}:\n{Prometheus.Lines(text, "confusionmatrix_predictions_rejected_total")}");
        }

        Assert.DoesNotContain("model=\"no-such-model\"", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task NdjsonWithBrokenLines_RejectsExactlyThoseLinesAsMalformed()
    {
        const string model = "intake-ndjson";
        await _api.RegisterModelAsync(model, Classes, null, ["region"]);
        string Line(int i, string actual, string predicted) =>
            SiloApi.ToJson(new Prediction($"n-{i}", model, "v1", predicted, actual, Segments: new Dictionary<string, string> { ["region"] = "EU" }));

        var lines = new[]
        {
            Line(0, "cat", "cat"),
            Line(1, "dog", "cat"),
            "{\"predictionId\":\"n-2\",\"model\":",
            Line(3, "bird", "bird"),
            "[1,2,3]",
            "not json at all",
            Line(6, "dog", "dog"),
        };
        var response = await _api.PostNdjsonLinesAsync(lines);
        Expect.Status(HttpStatusCode.Accepted, response);
        var body = response.Json;
        Assert.Equal(4, body.GetProperty("accepted").GetInt32());
        Assert.Equal(3, body.GetProperty("rejectedCount").GetInt32());
        var rejected = body.GetProperty("rejected").EnumerateArray().ToList();
        Assert.Equal([2, 4, 5], rejected.Select(r => r.GetProperty("index").GetInt32()));
        Assert.All(rejected, r => Assert.Equal("malformed", r.GetProperty("reason").GetString()));

        var all = await _api.WaitForTotalAsync(model, "v1", "all", 4);
        Expect.SameCounts([[1, 0, 0], [1, 1, 0], [0, 0, 1]], Expect.Counts(all), $"{model}/all");
        await _api.WaitForTotalAsync(model, "v1", "region=EU", 4);
    }

    [Theory]
    [InlineData("[{\"predictionId\":\"x\",", "not valid JSON")]
    [InlineData("{\"predictionId\":\"x\"}", "JSON array")]
    [InlineData("", "not valid JSON")]
    public async Task BodyThatIsNotAJsonArray_IsA400Problem(string body, string detail)
    {
        var response = await _api.SendRawAsync(HttpMethod.Post, "api/v1/predictions", body);
        Expect.Problem(response, HttpStatusCode.BadRequest, detail);
    }

    [Fact]
    public async Task BodyOverTheSizeLimit_IsA413Problem_AndCountsNothing()
    {
        const string model = "intake-too-large";
        await _api.RegisterModelAsync(model, Classes, null, []);

        // Valid predictions, padded past the limit by whitespace between elements.
        var element = Encoding.UTF8.GetBytes(SiloApi.ToJson(new Prediction("big-0", model, "v1", "cat", "cat")));
        var size = (int)SiloProcessFixture.MaxRequestBytes + 1024;
        var body = new byte[size];
        Array.Fill(body, (byte)' ');
        body[0] = (byte)'[';
        element.CopyTo(body, 1);
        body[^1] = (byte)']';

        var response = await _api.SendBytesAsync(body, "application/json");
        Expect.Problem(response, HttpStatusCode.RequestEntityTooLarge, SiloProcessFixture.MaxRequestBytes.ToString(CultureInfo.InvariantCulture));

        // A body just under the limit is fine, and its one prediction is counted.
        var small = new byte[(int)SiloProcessFixture.MaxRequestBytes - 16];
        Array.Fill(small, (byte)' ');
        small[0] = (byte)'[';
        element.CopyTo(small, 1);
        small[^1] = (byte)']';
        var accepted = await _api.SendBytesAsync(small, "application/json");
        Expect.Status(HttpStatusCode.Accepted, accepted);
        Assert.Equal(1, accepted.Json.GetProperty("accepted").GetInt32());
        await _api.WaitForTotalAsync(model, "v1", "all", 1);
    }

    [Fact]
    public async Task ChunkedBodyOverTheSizeLimit_IsA413Problem_AndTheSiloKeepsCounting()
    {
        const string model = "intake-chunked";
        await _api.RegisterModelAsync(model, Classes, null, []);
        var ndjson = new StringBuilder();
        for (var i = 0; ndjson.Length <= SiloProcessFixture.MaxRequestBytes; i++)
        {
            ndjson.Append(SiloApi.ToJson(new Prediction($"c-{i}", model, "v1", "cat", "cat"))).Append('\n');
        }

        var content = new UnknownLengthContent(Encoding.UTF8.GetBytes(ndjson.ToString()));
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue(SiloApi.NdjsonContentType);
        var response = await _api.SendAsync(new HttpRequestMessage(HttpMethod.Post, "api/v1/predictions") { Content = content });
        Expect.Problem(response, HttpStatusCode.RequestEntityTooLarge, SiloProcessFixture.MaxRequestBytes.ToString(CultureInfo.InvariantCulture));

        // The stream of this version still works: a later prediction is counted.
        var later = await _api.PostPredictionsNdjsonAsync([new Prediction("after-413", model, "v1", "dog", "dog")]);
        Expect.Status(HttpStatusCode.Accepted, later);
        await Eventually.MatchesAsync(
            () => _api.GetMatrixAsync(model, "v1", "all"),
            m => Expect.Counts(m)[1][1] == 1,
            "the prediction sent after the refused request being counted");
    }

    private static long[][] Count(IEnumerable<(string Actual, string Predicted, string Region)> predictions)
    {
        var counts = Classes.Select(_ => new long[Classes.Length]).ToArray();
        foreach (var (actual, predicted, _) in predictions)
        {
            counts[Array.IndexOf(Classes, actual)][Array.IndexOf(Classes, predicted)]++;
        }

        return counts;
    }
}

/// <summary>Reads samples out of Prometheus text exposition.</summary>
public static class Prometheus
{
    public static IEnumerable<string> Lines(string text, string metric) =>
        text.Split('\n').Where(l => l.StartsWith(metric + "{", StringComparison.Ordinal) || l.StartsWith(metric + " ", StringComparison.Ordinal));

    /// <summary>The value of the one sample of <paramref name="metric"/> carrying all the labels, or null.</summary>
    public static double? Value(string text, string metric, params (string Name, string Value)[] labels)
    {
        foreach (var line in Lines(text, metric))
        {
            if (labels.All(l => line.Contains($"{l.Name}=\"{l.Value}\"", StringComparison.Ordinal)))
            {
                // "name{labels} value [timestamp]": the value follows the closing brace.
                var afterLabels = line[(line.LastIndexOf('}') + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
                return double.Parse(afterLabels[0], CultureInfo.InvariantCulture);
            }
        }

        return null;
    }
}

/// <summary>Content without a known length, so that it is sent with chunked transfer encoding.</summary>
internal sealed class UnknownLengthContent(byte[] body) : HttpContent
{
    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
    {
        for (var offset = 0; offset < body.Length; offset += 64 * 1024)
        {
            await stream.WriteAsync(body.AsMemory(offset, Math.Min(64 * 1024, body.Length - offset)));
        }
    }

    protected override bool TryComputeLength(out long length)
    {
        length = 0;
        return false;
    }
}
