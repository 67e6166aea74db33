using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Threading.Channels;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace ConfusionMatrix.Grains;

/// <summary>
/// Sends rollout webhooks from a bounded background queue, retrying each delivery with exponential backoff and
/// jitter, so a slow or dead receiver never holds up a grain. Deliveries are at-least-once: receivers dedupe by
/// model and transition sequence.
/// </summary>
public sealed class WebhookSender(ConfusionMatrixInstruments instruments, ILogger<WebhookSender> logger)
    : BackgroundService, IWebhookSender
{
    internal const int MaxAttempts = 6;
    internal static readonly TimeSpan FirstDelay = TimeSpan.FromMilliseconds(500);

    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) } };

    // One client for the process; pooled connections are recycled so DNS changes of receivers are picked up.
    private readonly HttpClient _client = new(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5) }) { Timeout = TimeSpan.FromSeconds(10) };

    private readonly Channel<(RolloutWebhookEvent Event, string Url)> _queue =
        Channel.CreateBounded<(RolloutWebhookEvent, string)>(new BoundedChannelOptions(10_000) { FullMode = BoundedChannelFullMode.DropOldest });

    public void Enqueue(RolloutWebhookEvent evt, IReadOnlyList<string> urls)
    {
        foreach (var url in urls)
        {
            if (!_queue.Writer.TryWrite((evt, url)))
            {
                instruments.Webhook("dropped");
            }
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await foreach (var (evt, url) in _queue.Reader.ReadAllAsync(stoppingToken))
        {
            // Each delivery retries on its own task so one dead receiver does not delay the others.
            _ = DeliverAsync(evt, url, stoppingToken);
        }
    }

    public override void Dispose()
    {
        _client.Dispose();
        base.Dispose();
    }

    private async Task DeliverAsync(RolloutWebhookEvent evt, string url, CancellationToken cancellationToken)
    {
        for (var attempt = 1; attempt <= MaxAttempts; attempt++)
        {
            try
            {
                using var response = await _client.PostAsJsonAsync(url, evt, Json, cancellationToken);
                if (response.IsSuccessStatusCode)
                {
                    instruments.Webhook("delivered");
                    return;
                }

                Log.WebhookFailed(logger, url, attempt, $"HTTP {(int)response.StatusCode}");
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
            {
                Log.WebhookFailed(logger, url, attempt, ex.Message);
            }

            if (attempt < MaxAttempts)
            {
                var backoff = FirstDelay * Math.Pow(2, attempt - 1);
                await Task.Delay(backoff * (0.5 + Random.Shared.NextDouble()), cancellationToken);
            }
        }

        instruments.Webhook("failed");
        Log.WebhookGaveUp(logger, url, MaxAttempts, evt.Model, evt.Transition.Sequence);
    }
}
