using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;

namespace ConfusionMatrix.Bench;

/// <summary>
/// Part 5: the same HTTP workload against a cluster of 1 and of 3 silo processes (Azure Table membership and grain
/// storage, Azure Queue streams, all on one Azurite), posting through every silo's endpoint. On a 2-core machine the
/// three processes share the same two cores and one Azurite, so the ratio measures what clustering costs, not what
/// more machines would give.
/// </summary>
public static class ClusterScaling
{
    private const int Versions = 8;
    private const int BatchSize = 1000;
    private static readonly string[] Classes = ["neg", "pos"];
    private static readonly string[] Regions = ["EU", "US", "APAC", "LATAM"];

    public static async Task RunAsync(bool quick, string resultsDir, string azure)
    {
        if (string.IsNullOrEmpty(azure))
        {
            Console.WriteLine("Part 5 skipped: needs --azure (Azurite) for membership, storage and queues.");
            return;
        }

        var total = quick ? 40_000 : 160_000;
        var results = new Results(resultsDir, "cluster");
        var rows = new List<string[]>();
        var rates = new Dictionary<int, double>();
        foreach (var silos in new[] { 1, 3 })
        {
            await using var cluster = await SiloCluster.StartAsync(silos, azure);
            await RunOnceAsync(cluster, "warm", quick ? 8_000 : 16_000);
            var rate = await RunOnceAsync(cluster, "run", total);
            rates[silos] = rate;
            results.Set($"cluster_{silos}silo_pps", rate);
            rows.Add([$"{silos} silo process(es), HTTP to each, AzureTable + AzureQueue", $"{total:N0}", Stats.Rate(rate), Stats.F(rate / rates[1], "0.00")]);
        }

        results.Set("cluster_3_vs_1", rates[3] / rates[1]);
        results.Save();
        Stats.PrintTable(
            $"Part 5: cluster of silo processes ({Environment.ProcessorCount} cores shared by all silos and Azurite: the ratio is overhead, not speed-up)",
            ["cluster", "predictions", "rate", "ratio to 1 silo"],
            rows);
    }

    private static async Task<double> RunOnceAsync(SiloCluster cluster, string prefix, int total)
    {
        var model = $"{prefix}-{Guid.NewGuid():N}"[..16];
        using (var registered = await cluster.Http[0].PostAsync("api/v1/models", Json(new { model, classes = Classes, positiveClass = "pos", segmentDimensions = new[] { "region" } })))
        {
            registered.EnsureSuccessStatusCode();
        }

        var bodies = Enumerable.Range(0, Versions).Select(v => Body(model, $"v{v}", new Random(v))).ToArray();
        var perVersion = total / Versions / BatchSize;
        var started = Stopwatch.GetTimestamp();

        // One sender per version, each round-robin over the silos' endpoints.
        await Task.WhenAll(Enumerable.Range(0, Versions).Select(v => Task.Run(async () =>
        {
            for (var i = 0; i < perVersion; i++)
            {
                var http = cluster.Http[(v + i) % cluster.Http.Length];
                using var response = await http.PostAsync("api/v1/predictions", new StringContent(bodies[v], Encoding.UTF8, "application/json"));
                if (response.StatusCode != HttpStatusCode.Accepted)
                {
                    throw new InvalidOperationException($"POST answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
                }
            }
        })));

        var until = DateTime.UtcNow + TimeSpan.FromMinutes(3);
        for (var v = 0; v < Versions; v++)
        {
            while (await TotalAsync(cluster.Http[v % cluster.Http.Length], model, $"v{v}") < (long)perVersion * BatchSize)
            {
                if (DateTime.UtcNow > until)
                {
                    throw new TimeoutException($"{model}/v{v} not counted in 3 minutes");
                }

                await Task.Delay(50);
            }
        }

        return (double)perVersion * BatchSize * Versions / Stopwatch.GetElapsedTime(started).TotalSeconds;
    }

    private static async Task<long> TotalAsync(HttpClient http, string model, string version)
    {
        var json = await http.GetStringAsync($"api/v1/models/{model}/versions/{version}/segments/all/matrix");
        return JsonDocument.Parse(json).RootElement.GetProperty("total").GetInt64();
    }

    private static string Body(string model, string version, Random random)
    {
        var body = new StringBuilder("[");
        for (var i = 0; i < BatchSize; i++)
        {
            var actual = random.Next(2);
            var predicted = random.NextDouble() < 0.85 ? actual : 1 - actual;
            body.Append(i == 0 ? "" : ",").Append(JsonSerializer.Serialize(new
            {
                predictionId = $"p{i}",
                model,
                version,
                actual = Classes[actual],
                predicted = Classes[predicted],
                segments = new { region = Regions[random.Next(Regions.Length)] },
            }));
        }

        return body.Append(']').ToString();
    }

    private static StringContent Json(object value) => new(JsonSerializer.Serialize(value), Encoding.UTF8, "application/json");

    /// <summary>Silo processes (<c>dotnet ConfusionMatrix.Silo.dll</c>) on loopback, stopped by process id.</summary>
    private sealed class SiloCluster : IAsyncDisposable
    {
        private readonly List<Process> _processes = [];

        public HttpClient[] Http { get; private set; } = [];

        public static async Task<SiloCluster> StartAsync(int count, string azure)
        {
            var cluster = new SiloCluster();
            var id = $"bench{Guid.NewGuid():N}"[..14];
            var ports = SiloProcesses.FreePorts(count * 3);
            cluster.Http = [.. Enumerable.Range(0, count).Select(i => new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{ports[i * 3]}/"), Timeout = TimeSpan.FromSeconds(120) })];
            for (var i = 0; i < count; i++)
            {
                var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = AppContext.BaseDirectory };
                foreach (var a in new[]
                {
                    Path.Combine(AppContext.BaseDirectory, "ConfusionMatrix.Silo.dll"),
                    "--urls", $"http://127.0.0.1:{ports[i * 3]}",
                    "--Logging:LogLevel:Default=Warning",
                    "--ConfusionMatrix:Clustering:Provider=AzureTable",
                    "--ConfusionMatrix:Clustering:AdvertisedAddress=127.0.0.1",
                    $"--ConfusionMatrix:Clustering:SiloPort={ports[(i * 3) + 1]}",
                    $"--ConfusionMatrix:Clustering:GatewayPort={ports[(i * 3) + 2]}",
                    $"--ConfusionMatrix:Clustering:ClusterId={id}",
                    $"--ConfusionMatrix:Clustering:ServiceId={id}",
                    "--ConfusionMatrix:Storage:Provider=AzureTable",
                    $"--ConfusionMatrix:Storage:ConnectionString={azure}",
                    "--ConfusionMatrix:Streams:Provider=AzureQueue",
                })
                {
                    start.ArgumentList.Add(a);
                }

                var process = Process.Start(start) ?? throw new InvalidOperationException("dotnet did not start");
                process.OutputDataReceived += (_, _) => { };
                process.ErrorDataReceived += (_, _) => { };
                process.BeginOutputReadLine();
                process.BeginErrorReadLine();
                cluster._processes.Add(process);

                // The first silo creates the membership table; the others join.
                if (i == 0 || i == count - 1)
                {
                    foreach (var http in cluster.Http.Take(i + 1))
                    {
                        await SiloProcesses.WaitReadyAsync(http, process);
                    }
                }
            }

            return cluster;
        }

        public async ValueTask DisposeAsync()
        {
            foreach (var process in _processes)
            {
                if (!process.HasExited)
                {
                    process.Kill(entireProcessTree: true);
                    await process.WaitForExitAsync();
                }

                process.Dispose();
            }

            foreach (var http in Http)
            {
                http.Dispose();
            }
        }
    }
}
