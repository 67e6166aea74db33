using System.Collections.Concurrent;
using System.Net;
using System.Text.Json;

namespace ConfusionMatrix.Silo.Tests;

/// <summary>
/// Every rollout transition is POSTed as JSON to the policy's webhooks, signed with the policy's secret, and a failing
/// receiver is retried. The fixture silo allows 127.0.0.1 explicitly (ConfusionMatrix:Webhooks:AllowedHosts).
/// </summary>
[Collection(SiloCollection.Name)]
public sealed class WebhookHttpTests(SiloProcessFixture fixture)
{
    private readonly SiloApi _api = fixture.Api;

    [Fact]
    public async Task Transitions_ArePostedToWebhooks_AndFailedDeliveriesAreRetried()
    {
        var port = SiloProcess.FreePorts(1)[0];
        using var listener = new HttpListener();
        listener.Prefixes.Add($"http://127.0.0.1:{port}/");
        listener.Start();
        const string secret = "webhook-secret-for-tests-0123456789";
        var received = new ConcurrentQueue<JsonElement>();
        var badSignatures = new ConcurrentQueue<string>();
        var attempts = 0;
        using var stop = new CancellationTokenSource();
        var receiver = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                HttpListenerContext context;
                try
                {
                    context = await listener.GetContextAsync().WaitAsync(stop.Token);
                }
                catch (Exception) when (stop.IsCancellationRequested)
                {
                    return;
                }

                // The first delivery fails: the sender must try again with the same event.
                var attempt = Interlocked.Increment(ref attempts);
                using var reader = new StreamReader(context.Request.InputStream);
                var body = await reader.ReadToEndAsync();

                // What a receiver does: HMAC-SHA256 of the raw body with the shared secret, compared in constant time.
                var expected = "sha256=" + Convert.ToHexStringLower(System.Security.Cryptography.HMACSHA256.HashData(
                    System.Text.Encoding.UTF8.GetBytes(secret), System.Text.Encoding.UTF8.GetBytes(body)));
                var signature = context.Request.Headers["X-ConfusionMatrix-Signature"] ?? "";
                if (!System.Security.Cryptography.CryptographicOperations.FixedTimeEquals(System.Text.Encoding.ASCII.GetBytes(expected), System.Text.Encoding.ASCII.GetBytes(signature)))
                {
                    badSignatures.Enqueue($"{signature} for {body}");
                }

                if (attempt > 1)
                {
                    received.Enqueue(JsonDocument.Parse(body).RootElement.Clone());
                }

                context.Response.StatusCode = attempt == 1 ? 500 : 200;
                context.Response.Close();
            }
        });

        const string model = "webhooks";
        await _api.RegisterModelAsync(model, ["a", "b"], null, []);
        var hook = $"http://127.0.0.1:{port}/hook";
        var policy = await _api.PutJsonAsync($"api/v1/models/{model}/rollout/policy?actor=alice", new { webhooks = new[] { hook }, webhookSecret = secret });
        Expect.Status(HttpStatusCode.OK, policy);

        // The secret is write-only: reads show a placeholder.
        Assert.Equal("********", policy.Json.GetProperty("policy").GetProperty("webhookSecret").GetString());
        Assert.DoesNotContain(secret, (await _api.GetAsync($"api/v1/models/{model}/rollout")).Body, StringComparison.Ordinal);
        var stable = await _api.PostJsonAsync($"api/v1/models/{model}/rollout/set-stable", new { version = "v1", actor = "alice", reason = "first" });
        Expect.Status(HttpStatusCode.OK, stable);

        await Eventually.MatchesAsync(
            () => Task.FromResult(received.ToArray()),
            events => events.Length >= 2,
            "two webhook deliveries (one after a retry)");
        stop.Cancel();
        await receiver;

        var actions = received.Select(e => e.GetProperty("transition").GetProperty("action").GetString()).ToList();
        Assert.Contains("set-policy", actions);
        Assert.Contains("set-stable", actions);
        var setStable = received.Single(e => e.GetProperty("transition").GetProperty("action").GetString() == "set-stable");
        Assert.Equal("rollout.transition", setStable.GetProperty("type").GetString());
        Assert.Equal(model, setStable.GetProperty("model").GetString());
        Assert.Equal("alice", setStable.GetProperty("transition").GetProperty("actor").GetString());
        Assert.Equal("v1", setStable.GetProperty("routing").GetProperty("stable").GetString());
        Assert.True(attempts >= 3, $"expected a failed attempt and its retry, saw {attempts} attempts");
        Assert.True(badSignatures.IsEmpty, string.Join("\n", badSignatures));

        var bad = await _api.PutJsonAsync($"api/v1/models/{model}/rollout/policy", new { webhooks = new[] { "ftp://nope" }, webhookSecret = secret });
        Expect.Status(HttpStatusCode.BadRequest, bad);
        var unsigned = await _api.PutJsonAsync($"api/v1/models/{model}/rollout/policy", new { webhooks = new[] { hook } });
        Expect.Status(HttpStatusCode.BadRequest, unsigned);
        Assert.Contains("webhookSecret", unsigned.Body, StringComparison.Ordinal);
    }
}
