using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace ConfusionMatrix.Cluster.Tests;

/// <summary>
/// HTTP producers posting predictions through every silo's endpoint. Each request carries its own segment value
/// (<c>req=r{n}</c>), so what the cluster counted for that one request can be read back on its own: an acknowledged
/// request must be counted exactly once, and a request whose outcome is unknown (its silo died mid-request) exactly
/// once or not at all. A request refused at connect time was never sent and goes to the next endpoint unchanged;
/// nothing else is retried, since the API has no idempotency key yet.
/// </summary>
public sealed class IngestLoad(HttpClient[] endpoints, string model, string version, int predictionsPerRequest)
{
    public static readonly string[] Classes = ["neg", "pos"];

    private readonly ConcurrentBag<IngestRequest> _requests = [];
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly long[] _acknowledgedPerEndpoint = new long[endpoints.Length];
    private long _lastAcknowledgedTicks;
    private long _longestGapTicks;
    private int _nextId;
    private int _refusedAtConnect;

    public IReadOnlyCollection<IngestRequest> Requests => _requests;

    public IReadOnlyList<long> AcknowledgedPerEndpoint => _acknowledgedPerEndpoint;

    public int RefusedAtConnect => _refusedAtConnect;

    /// <summary>The longest stretch without any acknowledged request while the load ran.</summary>
    public TimeSpan LongestGapWithoutAcknowledgement => TimeSpan.FromTicks(Math.Max(Volatile.Read(ref _longestGapTicks), _clock.Elapsed.Ticks - Volatile.Read(ref _lastAcknowledgedTicks)));

    /// <summary>One producer per endpoint, each starting at its own silo and moving on when it refuses connections.</summary>
    public Task RunAsync(CancellationToken stop) =>
        Task.WhenAll(Enumerable.Range(0, endpoints.Length).Select(i => Task.Run(() => ProduceAsync(i, stop), CancellationToken.None)));

    private async Task ProduceAsync(int preferred, CancellationToken stop)
    {
        var random = new Random(preferred * 7919);
        while (!stop.IsCancellationRequested)
        {
            var request = NewRequest(random);
            var body = request.Body;
            for (var attempt = 0; ; attempt++)
            {
                var endpoint = (preferred + attempt) % endpoints.Length;
                request.Endpoint = endpoint;
                try
                {
                    using var content = new StringContent(body, Encoding.UTF8, "application/json");
                    using var response = await endpoints[endpoint].PostAsync("api/v1/predictions", content, CancellationToken.None);
                    var text = await response.Content.ReadAsStringAsync(CancellationToken.None);
                    if (response.StatusCode == HttpStatusCode.Accepted
                        && JsonDocument.Parse(text).RootElement.GetProperty("accepted").GetInt32() == predictionsPerRequest)
                    {
                        request.Outcome = IngestOutcome.Acknowledged;
                        Interlocked.Increment(ref _acknowledgedPerEndpoint[endpoint]);
                        MarkAcknowledged();
                    }
                    else
                    {
                        // 503 "unavailable" and the like: the publish may have landed before its error.
                        request.Outcome = IngestOutcome.Unknown;
                        request.Detail = $"{(int)response.StatusCode} {text[..Math.Min(text.Length, 200)]}";
                    }

                    break;
                }
                catch (HttpRequestException ex) when (ex.InnerException is SocketException { SocketErrorCode: SocketError.ConnectionRefused } && attempt < 3 * endpoints.Length)
                {
                    // Nothing was sent: the same request may go to the next silo.
                    Interlocked.Increment(ref _refusedAtConnect);
                    await Task.Delay(50, CancellationToken.None);
                }
                catch (Exception ex) when (ex is HttpRequestException or IOException or TaskCanceledException)
                {
                    request.Outcome = IngestOutcome.Unknown;
                    request.Detail = ex.GetType().Name + ": " + ex.Message;
                    break;
                }
            }

            _requests.Add(request);
            await Task.Delay(20, CancellationToken.None);
        }
    }

    private void MarkAcknowledged()
    {
        var now = _clock.Elapsed.Ticks;
        var previous = Interlocked.Exchange(ref _lastAcknowledgedTicks, now);
        var gap = now - previous;
        long longest;
        while (gap > (longest = Volatile.Read(ref _longestGapTicks)) && Interlocked.CompareExchange(ref _longestGapTicks, gap, longest) != longest)
        {
        }
    }

    private IngestRequest NewRequest(Random random)
    {
        var id = Interlocked.Increment(ref _nextId);
        var segment = $"r{id}";
        var cells = new long[4];
        var body = new StringBuilder("[");
        for (var i = 0; i < predictionsPerRequest; i++)
        {
            var actual = random.Next(2);
            var predicted = random.NextDouble() < 0.85 ? actual : 1 - actual;
            cells[(actual * 2) + predicted]++;
            body.Append(i == 0 ? "" : ",").Append(JsonSerializer.Serialize(new
            {
                predictionId = $"{segment}-{i}",
                model,
                version,
                actual = Classes[actual],
                predicted = Classes[predicted],
                segments = new Dictionary<string, string> { ["req"] = segment },
            }));
        }

        return new IngestRequest(id, segment, cells, body.Append(']').ToString());
    }
}

public enum IngestOutcome
{
    Unknown,
    Acknowledged,
}

public sealed class IngestRequest(int id, string segment, long[] cells, string body)
{
    public int Id { get; } = id;

    /// <summary>The request's own segment, <c>req=r{id}</c>.</summary>
    public string Segment { get; } = $"req={segment}";

    /// <summary>Cells (neg,neg), (neg,pos), (pos,neg), (pos,pos) of what the request carried.</summary>
    public long[] Cells { get; } = cells;

    public long Total => Cells.Sum();

    internal string Body { get; } = body;

    public int Endpoint { get; set; }

    public IngestOutcome Outcome { get; set; }

    public string? Detail { get; set; }
}
