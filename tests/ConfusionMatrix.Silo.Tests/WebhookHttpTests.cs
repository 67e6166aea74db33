using System.Collections.Concurrent;
using System.Net;
using System.Text.Json;

namespace ConfusionMatrix.Silo.Tests;

/// <summary>Every rollout transition is POSTed as JSON to the policy's webhooks, and a failing receiver is retried.</summary>
[Collection(SiloCollection.Name)]
public sealed class WebhookHttpTests(SiloProcessFixture fixture)
{
    private readonly SiloApi _api = fixture.Api;

    [Fact]
    public async Task Transitions_are_posted_to_webhooks_and_failed_deliveries_are_retried()
    {
        var port = SiloProcess.FreePorts(1)[0];
        using var listener = new HttpListener();
        listener.Prefixes.Add($"http://127.0.0.1:{port}/");
        listener.Start();
        var received = new ConcurrentQueue<JsonElement>();
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
        var policy = await _api.PutJsonAsync($"api/v1/models/{model}/rollout/policy?actor=alice", new { webhooks = new[] { hook } });
        Assert.True(policy.Status == HttpStatusCode.OK, policy.ToString());
        var stable = await _api.PostJsonAsync($"api/v1/models/{model}/rollout/set-stable", new { version = "v1", actor = "alice", reason = "first" });
        Assert.True(stable.Status == HttpStatusCode.OK, stable.ToString());

        await SiloApi.EventuallyAsync(
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

        var bad = await _api.PutJsonAsync($"api/v1/models/{model}/rollout/policy", new { webhooks = new[] { "ftp://nope" } });
        Assert.True(bad.Status == HttpStatusCode.BadRequest, bad.ToString());
    }
}
