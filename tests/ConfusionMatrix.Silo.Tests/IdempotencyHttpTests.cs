using System.Net;
using System.Text;
using System.Text.Json;

namespace ConfusionMatrix.Silo.Tests;

/// <summary>
/// <c>Idempotency-Key</c> on the prediction intake: a retried request is not counted again and gets the first answer,
/// also when the retries race each other.
/// </summary>
[Collection(SiloCollection.Name)]
public sealed class IdempotencyHttpTests(SiloProcessFixture fixture)
{
    private static readonly string[] Classes = ["legit", "fraud"];
    private readonly SiloApi _api = fixture.Api;

    [Fact]
    public async Task RetriedRequestWithTheSameKey_IsCountedOnce_AndAnsweredAsTheFirstTime()
    {
        const string model = "idempotent-retry";
        await _api.RegisterModelAsync(model, Classes, "fraud", ["region"]);
        var body = Body(model, 300, bad: 2);

        var first = await PostAsync(body, "retry-key-1");
        Assert.Equal(HttpStatusCode.Accepted, first.Status);
        Assert.Equal(300, first.Json.GetProperty("accepted").GetInt32());
        Assert.Equal(2, first.Json.GetProperty("rejectedCount").GetInt32());
        Assert.False(first.Headers.Contains("Idempotent-Replayed"));

        for (var retry = 0; retry < 3; retry++)
        {
            var again = await PostAsync(body, "retry-key-1");
            Assert.Equal(HttpStatusCode.Accepted, again.Status);
            Assert.Equal(first.Body, again.Body);
            Assert.Equal("true", again.Headers.GetValues("Idempotent-Replayed").Single());
        }

        await _api.WaitForTotalAsync(model, "v1", "all", 300);

        // A new key is a new request: counted again.
        Assert.Equal(HttpStatusCode.Accepted, (await PostAsync(body, "retry-key-2")).Status);
        await _api.WaitForTotalAsync(model, "v1", "all", 600);
        await _api.HoldTotalAsync(model, "v1", "all", 600, TimeSpan.FromSeconds(1));
    }

    [Fact]
    public async Task RacingRetries_CountOnce_AndAllEndWithTheSameAnswer()
    {
        const string model = "idempotent-race";
        await _api.RegisterModelAsync(model, Classes, "fraud", ["region"]);
        var body = Body(model, 2000, bad: 0);
        var answers = await Task.WhenAll(Enumerable.Range(0, 6).Select(async _ =>
        {
            while (true)
            {
                var r = await PostAsync(body, "race-key");
                if (r.Status != HttpStatusCode.Conflict)
                {
                    return r;
                }

                Assert.Equal("1", r.Headers.GetValues("Retry-After").Single());
                await Task.Delay(100);
            }
        }));

        Assert.All(answers, a => Assert.Equal(HttpStatusCode.Accepted, a.Status));
        Assert.Single(answers.Select(a => a.Body).Distinct());
        Assert.Single(answers, a => !a.Headers.Contains("Idempotent-Replayed"));
        await _api.WaitForTotalAsync(model, "v1", "all", 2000);
        await _api.HoldTotalAsync(model, "v1", "all", 2000, TimeSpan.FromSeconds(1));
    }

    [Fact]
    public async Task KeyReusedForAnotherBodyOrNotAValidKey_IsRefused_AndNothingIsCounted()
    {
        const string model = "idempotent-refused";
        await _api.RegisterModelAsync(model, Classes, "fraud", []);
        Assert.Equal(HttpStatusCode.Accepted, (await PostAsync(Body(model, 10, 0), "reused-key")).Status);
        var reused = await PostAsync(Body(model, 11, 0), "reused-key");
        Expect.Problem(reused.Response, (HttpStatusCode)422, "reused-key", "different body");

        foreach (var key in new[] { new string('k', 201), "has space", "tab\u0001key", "" })
        {
            Expect.Problem((await PostAsync(Body(model, 5, 0), key)).Response, HttpStatusCode.BadRequest, "Idempotency-Key");
        }

        Expect.Problem((await PostAsync(Body(model, 5, 0), "one", "two")).Response, HttpStatusCode.BadRequest, "Idempotency-Key");

        await _api.WaitForTotalAsync(model, "v1", "all", 10);
        await _api.HoldTotalAsync(model, "v1", "all", 10, TimeSpan.FromSeconds(1));
    }

    private static byte[] Body(string model, int good, int bad)
    {
        var random = new Random(good * 31 + bad);
        var sb = new StringBuilder("[");
        for (var i = 0; i < good + bad; i++)
        {
            if (i > 0)
            {
                sb.Append(',');
            }

            var actual = random.NextDouble() < 0.1 ? "fraud" : "legit";
            var predicted = i < good ? (random.NextDouble() < 0.1 ? "fraud" : "legit") : "unknown-class";
            sb.Append(JsonSerializer.Serialize(new { predictionId = $"p-{i}", model, version = "v1", actual, predicted, segments = new { region = i % 2 == 0 ? "EU" : "US" } }));
        }

        return Encoding.UTF8.GetBytes(sb.Append(']').ToString());
    }

    private async Task<Answer> PostAsync(byte[] body, params string[] keys)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "api/v1/predictions") { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new("application/json");
        foreach (var key in keys)
        {
            request.Headers.TryAddWithoutValidation("Idempotency-Key", key);
        }

        using var response = await _api.Http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return new Answer(response.StatusCode, text, response.Headers, new ApiResponse(response.StatusCode, response.Content.Headers.ContentType?.MediaType, text));
    }

    private sealed record Answer(HttpStatusCode Status, string Body, System.Net.Http.Headers.HttpResponseHeaders Headers, ApiResponse Response)
    {
        public JsonElement Json => Response.Json;
    }
}
