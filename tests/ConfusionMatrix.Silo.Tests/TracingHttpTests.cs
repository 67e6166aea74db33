using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Text;

namespace ConfusionMatrix.Silo.Tests;

/// <summary>
/// Traces over OTLP (http/protobuf) from a real silo process to a receiver in the test: a prediction request with a
/// known trace id yields the intake's publish span and the version router's span in that same trace, across the stream.
/// </summary>
public sealed class TracingHttpTests
{
    [Fact]
    public async Task PredictionRequest_IsTracedFromHttpThroughTheStreamToTheRouter()
    {
        var ports = SiloProcess.FreePorts(4);
        using var receiver = new HttpListener();
        receiver.Prefixes.Add($"http://127.0.0.1:{ports[3]}/");
        receiver.Start();
        var exports = new ConcurrentQueue<byte[]>();
        _ = Task.Run(async () =>
        {
            while (receiver.IsListening)
            {
                try
                {
                    var context = await receiver.GetContextAsync();
                    using var body = new MemoryStream();
                    await context.Request.InputStream.CopyToAsync(body);
                    if (context.Request.Url!.AbsolutePath == "/v1/traces")
                    {
                        exports.Enqueue(body.ToArray());
                    }

                    context.Response.StatusCode = 200;
                    context.Response.Close();
                }
                catch (Exception) when (!receiver.IsListening)
                {
                    return;
                }
            }
        });

        using var silo = SiloProcess.Start(
            [
                "--urls", $"http://127.0.0.1:{ports[0]}",
                $"--ConfusionMatrix:Clustering:SiloPort={ports[1]}",
                $"--ConfusionMatrix:Clustering:GatewayPort={ports[2]}",
                "--Logging:LogLevel:Default=Warning",
            ],
            new Dictionary<string, string>
            {
                ["OTEL_EXPORTER_OTLP_ENDPOINT"] = $"http://127.0.0.1:{ports[3]}",
                ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf",
                ["OTEL_BSP_SCHEDULE_DELAY"] = "200",
            });
        var api = new SiloApi(new Uri($"http://127.0.0.1:{ports[0]}/"), () => silo.OutputTail());
        await Eventually.MatchesAsync(
            async () =>
            {
                try
                {
                    return (await api.Http.GetAsync("health")).StatusCode;
                }
                catch (HttpRequestException)
                {
                    return HttpStatusCode.ServiceUnavailable;
                }
            },
            status => status == HttpStatusCode.OK,
            "the silo to answer /health",
            TimeSpan.FromSeconds(60));

        await api.RegisterModelAsync("traced", ["a", "b"], null, []);
        var traceId = ActivityTraceId.CreateRandom();
        var request = new HttpRequestMessage(HttpMethod.Post, "api/v1/predictions")
        {
            Content = new StringContent("""[{"predictionId":"t1","model":"traced","version":"v1","predicted":"a","actual":"a"}]""", Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("traceparent", $"00-{traceId}-{ActivitySpanId.CreateRandom()}-01");
        Assert.Equal(HttpStatusCode.Accepted, (await api.SendAsync(request)).Status);
        await api.WaitForTotalAsync("traced", "v1", "all", 1);

        // OTLP protobuf carries span names as UTF-8 and trace ids as their 16 bytes.
        var id = Convert.FromHexString(traceId.ToHexString());
        var spans = await Eventually.MatchesAsync(
            () => Task.FromResult(exports.ToArray()),
            bodies => bodies.Any(b => Contains(b, "confusionmatrix.route"u8.ToArray()) && Contains(b, id))
                && bodies.Any(b => Contains(b, "confusionmatrix.publish"u8.ToArray()) && Contains(b, id)),
            "publish and route spans in the request's trace",
            TimeSpan.FromSeconds(30));
        Assert.Contains(spans, b => Contains(b, "POST api/v1/predictions"u8.ToArray()) || Contains(b, "POST /api/v1/predictions"u8.ToArray()));
        receiver.Stop();
    }

    private static bool Contains(byte[] haystack, byte[] needle) => haystack.AsSpan().IndexOf(needle) >= 0;
}
