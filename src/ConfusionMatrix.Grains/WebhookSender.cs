using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Threading.Channels;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ConfusionMatrix.Grains;

/// <summary>
/// Sends rollout webhooks from a bounded background queue, retrying each delivery with exponential backoff and
/// jitter, so a slow or dead receiver never holds up a grain. Deliveries are at-least-once: receivers dedupe by
/// model and transition sequence. Every body is signed with the policy's secret (<see cref="SignatureHeader"/>), and
/// connections go only to addresses <see cref="WebhookTargetPolicy"/> allows, checked after name resolution so that a
/// name resolving to an internal address is refused too.
/// </summary>
public sealed class WebhookSender : BackgroundService, IWebhookSender
{
    public const string SignatureHeader = "X-ConfusionMatrix-Signature";

    internal const int MaxAttempts = 6;
    internal static readonly TimeSpan FirstDelay = TimeSpan.FromMilliseconds(500);

    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) } };

    private readonly ConfusionMatrixInstruments _instruments;
    private readonly ILogger<WebhookSender> _logger;
    private readonly WebhookTargetPolicy _targets;

    // One client for the process; pooled connections are recycled so DNS changes of receivers are picked up.
    private readonly HttpClient _client;

    private readonly Channel<(RolloutWebhookEvent Event, string Url, string? Secret)> _queue =
        Channel.CreateBounded<(RolloutWebhookEvent, string, string?)>(new BoundedChannelOptions(10_000) { FullMode = BoundedChannelFullMode.DropOldest });

    public WebhookSender(ConfusionMatrixInstruments instruments, IOptions<WebhookOptions> options, ILogger<WebhookSender> logger)
    {
        _instruments = instruments;
        _logger = logger;
        _targets = new WebhookTargetPolicy(options.Value.AllowedHosts);
        _client = new HttpClient(new SocketsHttpHandler
        {
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),

            // A redirect could lead anywhere; receivers answer where they are asked.
            AllowAutoRedirect = false,
            UseProxy = false,
            ConnectCallback = ConnectAsync,
        })
        { Timeout = TimeSpan.FromSeconds(10) };
    }

    public void Enqueue(RolloutWebhookEvent evt, IReadOnlyList<string> urls, string? secret)
    {
        foreach (var url in urls)
        {
            if (string.IsNullOrEmpty(secret))
            {
                Drop(url, "no_secret", "the rollout policy has no webhookSecret, so the body cannot be signed");
                continue;
            }

            if (!_queue.Writer.TryWrite((evt, url, secret)))
            {
                _instruments.Webhook("dropped");
                _instruments.WebhookDropped("queue_full");
            }
        }
    }

    /// <summary>The signature header's value: <c>sha256=</c> and the lowercase hex HMAC-SHA256 of the body.</summary>
    public static string Sign(ReadOnlySpan<byte> body, string secret) =>
        "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(System.Text.Encoding.UTF8.GetBytes(secret), body));

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await foreach (var (evt, url, secret) in _queue.Reader.ReadAllAsync(stoppingToken))
        {
            // Each delivery retries on its own task so one dead receiver does not delay the others.
            _ = DeliverAsync(evt, url, secret!, stoppingToken);
        }
    }

    private void Drop(string url, string reason, string detail)
    {
        _instruments.WebhookDropped(reason);
        Log.WebhookDropped(_logger, url, reason, detail);
    }

    private async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken)
    {
        var host = context.DnsEndPoint.Host;
        var addresses = IPAddress.TryParse(host.Trim('[', ']'), out var literal) ? [literal] : await Dns.GetHostAddressesAsync(host, cancellationToken);
        var allowed = addresses.Where(a => _targets.Refusal(host, a) is null).ToArray();
        if (allowed.Length == 0)
        {
            var reason = addresses.Length == 0 ? "unresolved" : _targets.Refusal(host, addresses[0])!;
            throw new WebhookTargetRefusedException(reason, $"{host} resolves to [{string.Join(", ", addresses.Select(a => a.ToString()))}], none of which webhooks may reach (ConfusionMatrix:Webhooks:AllowedHosts)");
        }

        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(allowed, context.DnsEndPoint.Port, cancellationToken);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    public override void Dispose()
    {
        _client.Dispose();
        base.Dispose();
    }

    private async Task DeliverAsync(RolloutWebhookEvent evt, string url, string secret, CancellationToken cancellationToken)
    {
        var body = JsonSerializer.SerializeToUtf8Bytes(evt, Json);
        var signature = Sign(body, secret);
        for (var attempt = 1; attempt <= MaxAttempts; attempt++)
        {
            try
            {
                using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new ByteArrayContent(body) };
                request.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
                request.Headers.TryAddWithoutValidation(SignatureHeader, signature);
                using var response = await _client.SendAsync(request, cancellationToken);
                if (response.IsSuccessStatusCode)
                {
                    _instruments.Webhook("delivered");
                    return;
                }

                Log.WebhookFailed(_logger, url, attempt, $"HTTP {(int)response.StatusCode}");
            }
            catch (HttpRequestException ex) when (ex.InnerException is WebhookTargetRefusedException refused)
            {
                // Asking again gives the same answer: drop now, and say why.
                Drop(url, refused.Reason, refused.Message);
                return;
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
            {
                Log.WebhookFailed(_logger, url, attempt, ex.Message);
            }

            if (attempt < MaxAttempts)
            {
                var backoff = FirstDelay * Math.Pow(2, attempt - 1);
                await Task.Delay(backoff * (0.5 + Random.Shared.NextDouble()), cancellationToken);
            }
        }

        _instruments.Webhook("failed");
        Log.WebhookGaveUp(_logger, url, MaxAttempts, evt.Model, evt.Transition.Sequence);
    }
}
