using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Sockets;
using ConfusionMatrix.Abstractions;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace ConfusionMatrix.Grains.Tests;

/// <summary>
/// The webhook sender against a real HTTP listener: the resilience pipeline retries failed answers, refused targets
/// are dropped without a retry, and a full queue counts every delivery it pushes out.
/// </summary>
public sealed class WebhookSenderTests
{
    private const string Secret = "webhook-secret-for-tests-0123456789";

    [Fact]
    public void FullQueue_CountsEachDeliveryItDrops()
    {
        using var host = new SenderHost([]);
        var sender = new WebhookSender(host.Instruments, host.Services.GetRequiredService<IHttpClientFactory>(), NullLogger<WebhookSender>.Instance, queueCapacity: 2);

        // Not started: nothing reads the queue, so three of the five deliveries are pushed out.
        sender.Enqueue(Event(), ["http://a.example/1", "http://a.example/2", "http://a.example/3", "http://a.example/4", "http://a.example/5"], Secret);

        Assert.Equal(3, host.Count("confusionmatrix.webhook.dropped", "reason", "queue_full"));
        Assert.Equal(3, host.Count("confusionmatrix.webhooks", "outcome", "dropped"));
    }

    [Fact]
    public void WithoutASecret_NothingIsQueued_AndTheDropIsCounted()
    {
        using var host = new SenderHost([]);
        var sender = host.Services.GetRequiredService<WebhookSender>();
        sender.Enqueue(Event(), ["http://a.example/1"], secret: null);
        Assert.Equal(1, host.Count("confusionmatrix.webhook.dropped", "reason", "no_secret"));
    }

    [Fact]
    public async Task FailedAnswers_AreRetried_UntilTheReceiverAccepts()
    {
        using var receiver = new Receiver(failFirst: 2);
        using var host = new SenderHost(["127.0.0.1"]);
        var sender = host.Services.GetRequiredService<WebhookSender>();
        await sender.StartAsync(CancellationToken.None);
        try
        {
            sender.Enqueue(Event(), [receiver.Url], Secret);
            await Eventually(() => host.Count("confusionmatrix.webhooks", "outcome", "delivered") == 1);
            Assert.Equal(3, receiver.Attempts);
            Assert.All(receiver.Signatures, s => Assert.Equal(WebhookSender.Sign(receiver.Bodies.First(), Secret), s));
        }
        finally
        {
            await sender.StopAsync(CancellationToken.None);
        }
    }

    [Fact]
    public async Task RefusedTarget_IsDroppedWithoutARetry()
    {
        using var receiver = new Receiver(failFirst: 0);

        // No allow list: a loopback receiver is a private address.
        using var host = new SenderHost([]);
        var sender = host.Services.GetRequiredService<WebhookSender>();
        await sender.StartAsync(CancellationToken.None);
        try
        {
            sender.Enqueue(Event(), [receiver.Url], Secret);
            await Eventually(() => host.Count("confusionmatrix.webhook.dropped", "reason", "private_address") == 1);
            Assert.Equal(0, receiver.Attempts);
            Assert.Equal(0, host.Count("confusionmatrix.webhooks", "outcome", "failed"));
        }
        finally
        {
            await sender.StopAsync(CancellationToken.None);
        }
    }

    private static RolloutWebhookEvent Event() =>
        new("m", new RolloutTransition(1, DateTimeOffset.UnixEpoch, "set-stable", "alice", "first", RolloutPhase.Stable, RolloutPhase.Stable, "v1", null, 0, null), new RoutingTable("m", "v1", null, 0, RolloutPhase.Stable));

    private static async Task Eventually(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "the condition did not hold within 30 s");
            await Task.Delay(50);
        }
    }

    /// <summary>The sender's real registration, with the project's instruments read through a listener.</summary>
    private sealed class SenderHost : IDisposable
    {
        private readonly MeterListener _listener = new();
        private readonly ConcurrentDictionary<(string Name, string Tag), long> _sums = new();

        public SenderHost(List<string> allowedHosts)
        {
            var services = new ServiceCollection();
            services.AddLogging(l => l.SetMinimumLevel(LogLevel.Warning));
            services.Configure<WebhookOptions>(o => o.AllowedHosts = allowedHosts);
            services.AddConfusionMatrixGrainServices();
            Services = services.BuildServiceProvider();
            Instruments = Services.GetRequiredService<ConfusionMatrixInstruments>();
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (ReferenceEquals(instrument.Meter, Instruments.Meter))
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
            {
                foreach (var tag in tags)
                {
                    _sums.AddOrUpdate((instrument.Name, $"{tag.Key}={tag.Value}"), value, (_, sum) => sum + value);
                }
            });
            _listener.Start();
        }

        public ServiceProvider Services { get; }

        public ConfusionMatrixInstruments Instruments { get; }

        public long Count(string name, string tag, string value) => _sums.GetValueOrDefault((name, $"{tag}={value}"));

        public void Dispose()
        {
            _listener.Dispose();
            Services.Dispose();
        }
    }

    /// <summary>An HTTP receiver on loopback that answers 500 to the first few deliveries and 200 after.</summary>
    private sealed class Receiver : IDisposable
    {
        private readonly HttpListener _listener = new();
        private readonly CancellationTokenSource _stop = new();
        private int _attempts;

        public Receiver(int failFirst)
        {
            var probe = new TcpListener(IPAddress.Loopback, 0);
            probe.Start();
            var port = ((IPEndPoint)probe.LocalEndpoint).Port;
            probe.Stop();
            Url = $"http://127.0.0.1:{port}/hook";
            _listener.Prefixes.Add($"http://127.0.0.1:{port}/");
            _listener.Start();
            _ = Task.Run(async () =>
            {
                while (!_stop.IsCancellationRequested)
                {
                    HttpListenerContext context;
                    try
                    {
                        context = await _listener.GetContextAsync().WaitAsync(_stop.Token);
                    }
                    catch (Exception) when (_stop.IsCancellationRequested)
                    {
                        return;
                    }

                    using var body = new MemoryStream();
                    await context.Request.InputStream.CopyToAsync(body);
                    Bodies.Enqueue(body.ToArray());
                    Signatures.Enqueue(context.Request.Headers[WebhookSender.SignatureHeader] ?? "");
                    context.Response.StatusCode = Interlocked.Increment(ref _attempts) <= failFirst ? 500 : 200;
                    context.Response.Close();
                }
            });
        }

        public string Url { get; }

        public int Attempts => Volatile.Read(ref _attempts);

        public ConcurrentQueue<byte[]> Bodies { get; } = new();

        public ConcurrentQueue<string> Signatures { get; } = new();

        public void Dispose()
        {
            _stop.Cancel();
            _listener.Close();
        }
    }
}
