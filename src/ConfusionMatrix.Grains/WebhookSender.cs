using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Threading.Channels;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Http.Resilience;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Polly;
using Polly.Timeout;

namespace ConfusionMatrix.Grains;

/// <summary>
/// Sends rollout webhooks from a bounded background queue through the <see cref="HttpClientName"/> client of
/// <see cref="IHttpClientFactory"/>, whose resilience pipeline retries each delivery with exponential backoff and
/// jitter, so a slow or dead receiver never holds up a grain. Deliveries are at-least-once: receivers dedupe by model
/// and transition sequence. Every body is signed with the policy's secret (<see cref="SignatureHeader"/>), and
/// connections go only to addresses <see cref="WebhookTargetPolicy"/> allows, checked after name resolution so that a
/// name resolving to an internal address is refused too.
/// </summary>
public sealed class WebhookSender : BackgroundService, IWebhookSender
{
    public const string SignatureHeader = "X-ConfusionMatrix-Signature";

    /// <summary>The named client of <see cref="IHttpClientFactory"/> webhooks go through.</summary>
    public const string HttpClientName = "ConfusionMatrix.Webhooks";

    internal const int MaxAttempts = 6;
    internal const int DefaultQueueCapacity = 10_000;
    internal static readonly TimeSpan FirstDelay = TimeSpan.FromMilliseconds(500);
    internal static readonly TimeSpan AttemptTimeout = TimeSpan.FromSeconds(10);

    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) } };

    private readonly ConfusionMatrixInstruments _instruments;
    private readonly ILogger<WebhookSender> _logger;
    private readonly IHttpClientFactory _clients;
    private readonly Channel<Delivery> _queue;

    public WebhookSender(ConfusionMatrixInstruments instruments, IHttpClientFactory clients, ILogger<WebhookSender> logger)
        : this(instruments, clients, logger, DefaultQueueCapacity)
    {
    }

    internal WebhookSender(ConfusionMatrixInstruments instruments, IHttpClientFactory clients, ILogger<WebhookSender> logger, int queueCapacity)
    {
        _instruments = instruments;
        _clients = clients;
        _logger = logger;

        // Drop-oldest never refuses a write; the queue says which delivery it pushed out, and that is what is counted.
        _queue = Channel.CreateBounded<Delivery>(
            new BoundedChannelOptions(queueCapacity) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true },
            dropped => Drop(dropped.Url, "queue_full", $"the queue of {queueCapacity} deliveries is full; the oldest was dropped"));
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

            _queue.Writer.TryWrite(new Delivery(evt, url, secret));
        }
    }

    /// <summary>The signature header's value: <c>sha256=</c> and the lowercase hex HMAC-SHA256 of the body.</summary>
    public static string Sign(ReadOnlySpan<byte> body, string secret) =>
        "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(System.Text.Encoding.UTF8.GetBytes(secret), body));

    /// <summary>
    /// Registers the webhook client: connections only to allowed addresses, no redirects or proxies, and a retry
    /// pipeline of <see cref="MaxAttempts"/> attempts, each with its own <see cref="AttemptTimeout"/>.
    /// </summary>
    public static IHttpClientBuilder AddWebhookClient(IServiceCollection services)
    {
        var client = services.AddHttpClient(HttpClientName, c => c.Timeout = Timeout.InfiniteTimeSpan)
            .ConfigurePrimaryHttpMessageHandler(sp =>
            {
                var targets = new WebhookTargetPolicy(sp.GetRequiredService<IOptions<WebhookOptions>>().Value.AllowedHosts);
                return new SocketsHttpHandler
                {
                    // Pooled connections are recycled so DNS changes of receivers are picked up.
                    PooledConnectionLifetime = TimeSpan.FromMinutes(5),

                    // A redirect could lead anywhere; receivers answer where they are asked.
                    AllowAutoRedirect = false,
                    UseProxy = false,
                    ConnectCallback = (context, token) => ConnectAsync(targets, context, token),
                };
            })
            .SetHandlerLifetime(Timeout.InfiniteTimeSpan);
        client.AddResilienceHandler("webhook-delivery", (pipeline, context) =>
        {
            var logger = context.ServiceProvider.GetRequiredService<ILogger<WebhookSender>>();
            pipeline
                .AddRetry(new HttpRetryStrategyOptions
                {
                    MaxRetryAttempts = MaxAttempts - 1,
                    Delay = FirstDelay,
                    BackoffType = DelayBackoffType.Exponential,
                    UseJitter = true,
                    ShouldHandle = args => ValueTask.FromResult(IsWorthRetrying(args.Outcome)),
                    OnRetry = args =>
                    {
                        var url = args.Context.GetRequestMessage()?.RequestUri?.ToString() ?? "?";
                        Log.WebhookFailed(logger, url, args.AttemptNumber + 1, Describe(args.Outcome));
                        return ValueTask.CompletedTask;
                    },
                })
                .AddTimeout(AttemptTimeout);
        });
        return client;
    }

    /// <summary>Any failed answer or transport error is tried again, except a refused target: asking again gives the same answer.</summary>
    internal static bool IsWorthRetrying(Outcome<HttpResponseMessage> outcome) => outcome switch
    {
        { Exception: HttpRequestException { InnerException: WebhookTargetRefusedException } } => false,
        { Exception: HttpRequestException or TimeoutRejectedException } => true,
        { Exception: null, Result: { IsSuccessStatusCode: false } } => true,
        _ => false,
    };

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await foreach (var delivery in _queue.Reader.ReadAllAsync(stoppingToken))
        {
            // Each delivery retries on its own task so one dead receiver does not delay the others.
            _ = DeliverAsync(delivery, stoppingToken);
        }
    }

    private static string Describe(Outcome<HttpResponseMessage> outcome) =>
        outcome.Exception?.Message ?? $"HTTP {(int)outcome.Result!.StatusCode}";

    private void Drop(string url, string reason, string detail)
    {
        _instruments.Webhook("dropped");
        _instruments.WebhookDropped(reason);
        Log.WebhookDropped(_logger, url, reason, detail);
    }

    private static async ValueTask<Stream> ConnectAsync(WebhookTargetPolicy targets, SocketsHttpConnectionContext context, CancellationToken cancellationToken)
    {
        var host = context.DnsEndPoint.Host;
        var addresses = IPAddress.TryParse(host.Trim('[', ']'), out var literal) ? [literal] : await Dns.GetHostAddressesAsync(host, cancellationToken);
        var allowed = addresses.Where(a => targets.Refusal(host, a) is null).ToArray();
        if (allowed.Length == 0)
        {
            var reason = addresses.Length == 0 ? "unresolved" : targets.Refusal(host, addresses[0])!;
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

    private async Task DeliverAsync(Delivery delivery, CancellationToken cancellationToken)
    {
        var (evt, url, secret) = delivery;
        var body = JsonSerializer.SerializeToUtf8Bytes(evt, Json);
        string failure;
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new ByteArrayContent(body) };
            request.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
            request.Headers.TryAddWithoutValidation(SignatureHeader, Sign(body, secret));
            using var response = await _clients.CreateClient(HttpClientName).SendAsync(request, cancellationToken);
            if (response.IsSuccessStatusCode)
            {
                _instruments.Webhook("delivered");
                return;
            }

            failure = $"HTTP {(int)response.StatusCode}";
        }
        catch (HttpRequestException ex) when (ex.InnerException is WebhookTargetRefusedException refused)
        {
            Drop(url, refused.Reason, refused.Message);
            return;
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            failure = ex.Message;
        }
        catch (OperationCanceledException)
        {
            // The host is stopping; an at-least-once delivery that did not finish is simply not confirmed.
            return;
        }

        _instruments.Webhook("failed");
        Log.WebhookFailed(_logger, url, MaxAttempts, failure);
        Log.WebhookGaveUp(_logger, url, MaxAttempts, evt.Model, evt.Transition.Sequence);
    }

    private readonly record struct Delivery(RolloutWebhookEvent Event, string Url, string Secret);
}
