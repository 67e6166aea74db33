using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace ConfusionMatrix.Durability.Tests;

public sealed partial class ProcessKillTests
{
    /// <summary>
    /// (h) Requests with an <c>Idempotency-Key</c>, each cut off by a SIGKILL of the silo at a different moment (before,
    /// while and after its batches are published), and retried with the same key after the restart until answered:
    /// every prediction counts exactly once, and a retry of an answered request gets the stored answer back.
    /// </summary>
    [Fact]
    public async Task H_KeyedRequestsCutOffBySigkill_CountOnceWhenRetried()
    {
        var ports = SiloProcess.FreePorts(3);
        var serviceId = $"idem{Guid.NewGuid():N}"[..16];
        string[] Arguments() => DurableSiloArguments(ports, serviceId, "--ConfusionMatrix:Api:MaxBatchSize=500");

        const string model = "sigkill-idempotent";
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{ports[0]}/"), Timeout = TimeSpan.FromSeconds(60) };
        var expected = new Dictionary<string, long[]>(StringComparer.Ordinal) { ["all"] = new long[4] };
        var bodies = new List<string>();
        var random = new Random(31);
        foreach (var _ in Enumerable.Range(0, 3))
        {
            // 3000 predictions of v1, cut into six batches of 500: a kill can fall between any two.
            bodies.Add(JsonSerializer.Serialize(Enumerable.Range(0, 3000).Select(i =>
            {
                var actual = random.Next(2);
                var predicted = random.NextDouble() < 0.8 ? actual : 1 - actual;
                expected["all"][(actual * 2) + predicted]++;
                return new { predictionId = $"k{bodies.Count}-{i}", model, version = "v1", actual = Classes[actual], predicted = Classes[predicted] };
            })));
        }

        var silo = SiloProcess.Start(Arguments());
        try
        {
            await WaitHealthyAsync(http, silo);
            var registered = await http.PostAsJsonAsync("api/v1/models", new { model, classes = Classes, positiveClass = "pos", segmentDimensions = Array.Empty<string>() });
            Assert.True(registered.IsSuccessStatusCode, await registered.Content.ReadAsStringAsync());

            var answers = new string?[bodies.Count];
            int[] killAfterMs = [0, 60, 300];
            for (var r = 0; r < bodies.Count; r++)
            {
                // The request is under way when the silo is killed; its outcome is unknown to the caller.
                var inFlight = SendAsync(http, bodies[r], $"job-{r}");
                await Task.Delay(killAfterMs[r]);
                silo.Dispose();
                try
                {
                    await inFlight;
                }
                catch (HttpRequestException)
                {
                    // Cut off: the caller does not know whether anything was counted.
                }

                silo = SiloProcess.Start(Arguments());
                await WaitHealthyAsync(http, silo);
                answers[r] = await RetryUntilAnsweredAsync(http, bodies[r], $"job-{r}");
            }

            // Every request once more, as a client that lost the answers would: the stored answers come back.
            for (var r = 0; r < bodies.Count; r++)
            {
                using var again = await SendAsync(http, bodies[r], $"job-{r}");
                Assert.Equal(HttpStatusCode.Accepted, again.StatusCode);
                Assert.Equal("true", again.Headers.GetValues("Idempotent-Replayed").Single());
                Assert.Equal(answers[r], await again.Content.ReadAsStringAsync());
            }

            var until = DateTime.UtcNow + TimeSpan.FromSeconds(120);
            while (!await MatchesAsync(http, expected, failHard: false, model))
            {
                if (DateTime.UtcNow > until)
                {
                    await MatchesAsync(http, expected, failHard: true, model);
                }

                await Task.Delay(250);
            }

            // Hold: a late redelivery counted twice would show up here.
            var hold = DateTime.UtcNow + TimeSpan.FromSeconds(6);
            while (DateTime.UtcNow < hold)
            {
                await MatchesAsync(http, expected, failHard: true, model);
                await Task.Delay(500);
            }
        }
        finally
        {
            silo.Dispose();
        }
    }

    private static Task<HttpResponseMessage> SendAsync(HttpClient http, string body, string key)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "api/v1/predictions") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.Add("Idempotency-Key", key);
        return http.SendAsync(request);
    }

    /// <summary>Retries with the same key, as a client with a retry policy would, until the request is answered with a 202.</summary>
    private static async Task<string> RetryUntilAnsweredAsync(HttpClient http, string body, string key)
    {
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(90);
        var last = "";
        while (DateTime.UtcNow < until)
        {
            try
            {
                using var response = await SendAsync(http, body, key);
                last = $"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}";
                if (response.StatusCode == HttpStatusCode.Accepted)
                {
                    var answer = await response.Content.ReadAsStringAsync();
                    Assert.Equal(0, JsonDocument.Parse(answer).RootElement.GetProperty("rejectedCount").GetInt32());
                    return answer;
                }

                Assert.True(response.StatusCode is HttpStatusCode.Conflict or HttpStatusCode.ServiceUnavailable, last);
            }
            catch (HttpRequestException ex)
            {
                last = ex.Message;
            }

            await Task.Delay(250);
        }

        Assert.Fail($"{key} was not answered within 90 s; last: {last}");
        return "";
    }
}
