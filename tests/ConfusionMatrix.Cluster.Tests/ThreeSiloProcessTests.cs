using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using ConfusionMatrix.Abstractions;
using ConfusionMatrix.Durability.Tests;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;

namespace ConfusionMatrix.Cluster.Tests;

/// <summary>
/// Three silo processes on loopback, one cluster through Azure Table membership, grain state in Azure Table and the
/// prediction log on Azure Queue, all on one Azurite. While producers post through all three HTTP endpoints, the silo
/// holding the rollout controller is killed with SIGKILL and started again, then every silo is restarted gracefully,
/// one at a time. Every acknowledged prediction must end up counted exactly once; the rollout state and the drift
/// verdicts recorded before must be there after.
/// </summary>
public sealed class ThreeSiloProcessTests(ITestOutputHelper output)
{
    private const string Model = "cluster";
    private const string DriftModel = "cluster-drift";
    private static readonly TimeSpan StartDeadline = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task KillAndRollingRestart_KeepEveryAcknowledgedPredictionExactlyOnce()
    {
        var total = Stopwatch.StartNew();
        await using var azurite = await Azurite.StartAsync();
        await using var cluster = new ProcessCluster(
            azurite,
            3,
            "--ConfusionMatrix:Streams:VisibilitySeconds=5",
            "--ConfusionMatrix:Streams:PollMilliseconds=50",
            "--ConfusionMatrix:Streams:QueueCount=4",
            "--ConfusionMatrix:Clustering:ProbeTimeoutSeconds=1",
            "--ConfusionMatrix:Clustering:MissedProbesLimit=2",
            "--ConfusionMatrix:Host:ShutdownTimeoutSeconds=20");

        // The first silo creates the membership table; the other two join it.
        cluster.Start(0);
        await cluster.WaitReadyAsync(0, StartDeadline);
        cluster.Start(1);
        cluster.Start(2);
        await Task.WhenAll(cluster.WaitReadyAsync(1, StartDeadline), cluster.WaitReadyAsync(2, StartDeadline));
        using var clientHost = await cluster.ConnectClientAsync();
        var grains = clientHost.Services.GetRequiredService<IClusterClient>();
        await WaitActiveSilosAsync(grains, 3);
        output.WriteLine($"cluster of 3 up after {total.Elapsed.TotalSeconds:F1} s");

        // A model whose drift watcher stays idle (one segment per request is for checking, not judging), and a model
        // with a canary and drift verdicts whose state must survive the restarts.
        var http = cluster.Http[0];
        await PostOkAsync(http, "api/v1/models", new { model = Model, classes = IngestLoad.Classes, positiveClass = "pos", segmentDimensions = new[] { "req" } });
        await PutOkAsync(http, $"api/v1/models/{Model}/drift/policy", new { evaluationInterval = "01:00:00", evidenceThreshold = 1_000_000_000 });
        var (rolloutBefore, driftBefore) = await PrepareRolloutAndVerdictsAsync(cluster, grains);

        var load = new IngestLoad(cluster.Http, Model, "v1", predictionsPerRequest: 200);
        using var stopLoad = new CancellationTokenSource();
        var loadTask = load.RunAsync(stopLoad.Token);
        await Task.Delay(TimeSpan.FromSeconds(4));

        // SIGKILL the silo that holds the rollout controller.
        var management = grains.GetGrain<IManagementGrain>(0);
        var controller = grains.GetGrain<IRolloutControllerGrain>(DriftModel);
        var home = await management.GetActivationAddress(controller);
        Assert.NotNull(home);
        var victim = Enumerable.Range(0, cluster.Size).Single(i => cluster.SiloPort(i) == home.Endpoint.Port);
        var survivor = (victim + 1) % cluster.Size;
        var killed = Stopwatch.StartNew();
        cluster.Kill(victim);
        var declaredDead = WaitDeclaredDeadAsync(cluster, cluster.SiloPort(victim), killed);
        var servedAgain = WaitServedAsync(cluster.Http[survivor], $"api/v1/models/{DriftModel}/rollout", killed);
        var deadAfter = await declaredDead;
        var servedAfter = await servedAgain;
        var newHome = await management.GetActivationAddress(controller);
        Assert.NotNull(newHome);
        Assert.NotEqual(cluster.SiloPort(victim), newHome.Endpoint.Port);
        output.WriteLine($"SIGKILL silo {victim}: declared dead after {deadAfter.TotalSeconds:F1} s, its rollout controller served again from silo port {newHome.Endpoint.Port} after {servedAfter.TotalSeconds:F1} s");

        cluster.Start(victim);
        await cluster.WaitReadyAsync(victim, StartDeadline);
        await WaitActiveSilosAsync(grains, 3);

        // Rolling restart: SIGTERM, wait for a clean exit, start again, wait until it serves and the cluster is whole.
        for (var i = 0; i < cluster.Size; i++)
        {
            var restart = Stopwatch.StartNew();
            await cluster.StopAsync(i, TimeSpan.FromSeconds(60));
            cluster.Start(i);
            await cluster.WaitReadyAsync(i, StartDeadline);
            await WaitActiveSilosAsync(grains, 3);
            output.WriteLine($"graceful restart of silo {i}: {restart.Elapsed.TotalSeconds:F1} s");
        }

        await Task.Delay(TimeSpan.FromSeconds(3));
        await stopLoad.CancelAsync();
        await loadTask;

        var requests = load.Requests.OrderBy(r => r.Id).ToList();
        var acknowledged = requests.Where(r => r.Outcome == IngestOutcome.Acknowledged).ToList();
        var unknown = requests.Where(r => r.Outcome == IngestOutcome.Unknown).ToList();
        output.WriteLine($"requests: {requests.Count}, acknowledged {acknowledged.Count} ({acknowledged.Sum(r => r.Total)} predictions; per endpoint {string.Join("/", load.AcknowledgedPerEndpoint)}), unknown outcome {unknown.Count}, refused at connect and resent {load.RefusedAtConnect}, longest stretch without an acknowledgement {load.LongestGapWithoutAcknowledgement.TotalSeconds:F1} s");
        foreach (var r in unknown)
        {
            output.WriteLine($"  unknown outcome r{r.Id} via silo {r.Endpoint}: {r.Detail}");
        }

        foreach (var line in cluster.OutputLinesContaining("Exception").Take(40))
        {
            output.WriteLine($"  silo log: {line}");
        }

        Assert.DoesNotContain(requests, r => r.Detail?.StartsWith("500", StringComparison.Ordinal) == true);
        Assert.All(load.AcknowledgedPerEndpoint, n => Assert.True(n > 0, "every endpoint acknowledged requests"));
        Assert.True(load.LongestGapWithoutAcknowledgement < TimeSpan.FromSeconds(30), $"the API stopped acknowledging for {load.LongestGapWithoutAcknowledgement.TotalSeconds:F1} s");

        // Every acknowledged request counted exactly once; an unknown one once or not at all; then hold, so that a late
        // redelivery counted twice would still show.
        var tally = await WaitCountedAsync(grains, requests, TimeSpan.FromSeconds(120));
        output.WriteLine($"counted after the load stopped: lost {tally.Lost}, doubled {tally.Doubled}, unknown-outcome requests counted {tally.UnknownCounted} of {unknown.Count}");
        await Task.Delay(TimeSpan.FromSeconds(5));
        var held = await CountAsync(grains, requests);
        output.WriteLine($"after a 5 s hold: lost {held.Lost}, doubled {held.Doubled}, partial {held.Partial}");
        var problems = $"lost {held.Lost}, doubled {held.Doubled}, partial {held.Partial}: {string.Join("; ", held.Problems.Take(10))}";
        Expect.Equal(0L, held.Lost, problems);
        Expect.Equal(0L, held.Doubled, problems);
        Expect.Equal(0, held.Partial, problems);

        // The version's own segment agrees with the sum of the requests' segments.
        var allSegment = grains.GetGrain<ISegmentMatrixGrain>(Segments.MatrixKey(Model, "v1", Segments.All));
        var allUntil = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        long allTotal;
        while ((allTotal = (await allSegment.GetMatrixAsync(null)).Matrix.Total) != held.CountedTotal && DateTime.UtcNow < allUntil)
        {
            await Task.Delay(500);
        }

        output.WriteLine($"segment all: {allTotal}, sum of the request segments: {held.CountedTotal}");
        Assert.Equal(held.CountedTotal, allTotal);

        // Rollout state and drift verdicts survived the kill and the restarts.
        var rolloutAfter = await GetJsonAsync(cluster.Http[1], $"api/v1/models/{DriftModel}/rollout");
        Assert.Equal(rolloutBefore["routing"]!.ToJsonString(), rolloutAfter["routing"]!.ToJsonString());
        Assert.Equal(rolloutBefore["history"]!.AsArray().Count, rolloutAfter["history"]!.AsArray().Count);
        var driftAfter = await GetJsonAsync(cluster.Http[2], $"api/v1/models/{DriftModel}/drift");
        Assert.Equal(Verdicts(driftBefore), Verdicts(driftAfter));
        output.WriteLine($"rollout ({rolloutAfter["routing"]!["phase"]}) and {driftAfter["verdicts"]!.AsArray().Count} drift verdicts unchanged; whole test {total.Elapsed.TotalSeconds:F0} s");
    }

    private static async Task<(JsonNode Rollout, JsonNode Drift)> PrepareRolloutAndVerdictsAsync(ProcessCluster cluster, IClusterClient grains)
    {
        var http = cluster.Http[0];
        await PostOkAsync(http, "api/v1/models", new { model = DriftModel, classes = IngestLoad.Classes, positiveClass = "pos", segmentDimensions = new[] { "region" } });
        await PostOkAsync(http, $"api/v1/models/{DriftModel}/rollout/set-stable", new { version = "v1", actor = "cluster-test" });
        await PostOkAsync(http, $"api/v1/models/{DriftModel}/rollout/start-canary", new { version = "v2", weight = 10, actor = "cluster-test", reason = "three-silo test" });
        var random = new Random(5);
        foreach (var version in new[] { "v1", "v2" })
        {
            var body = new StringBuilder("[");
            for (var i = 0; i < 1000; i++)
            {
                var actual = random.Next(2);
                var predicted = random.NextDouble() < 0.9 ? actual : 1 - actual;
                body.Append(i == 0 ? "" : ",").Append(JsonSerializer.Serialize(new
                {
                    predictionId = $"{version}-{i}",
                    model = DriftModel,
                    version,
                    actual = IngestLoad.Classes[actual],
                    predicted = IngestLoad.Classes[predicted],
                    segments = new { region = i % 2 == 0 ? "EU" : "US" },
                }));
            }

            using var response = await http.PostAsync("api/v1/predictions", new StringContent(body.Append(']').ToString(), Encoding.UTF8, "application/json"));
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        }

        foreach (var version in new[] { "v1", "v2" })
        {
            var until = DateTime.UtcNow + TimeSpan.FromSeconds(60);
            while ((await grains.GetGrain<ISegmentMatrixGrain>(Segments.MatrixKey(DriftModel, version, Segments.All)).GetMatrixAsync(null)).Matrix.Total < 1000)
            {
                Assert.True(DateTime.UtcNow < until, $"{DriftModel}/{version} not counted in time");
                await Task.Delay(200);
            }
        }

        using (var evaluated = await http.PostAsync($"api/v1/models/{DriftModel}/drift/evaluate", null))
        {
            Assert.True(evaluated.IsSuccessStatusCode, await evaluated.Content.ReadAsStringAsync());
        }

        var drift = await GetJsonAsync(http, $"api/v1/models/{DriftModel}/drift");
        Assert.NotEmpty(drift["verdicts"]!.AsArray());
        var rollout = await GetJsonAsync(http, $"api/v1/models/{DriftModel}/rollout");
        Assert.Equal("v2", rollout["routing"]!["canary"]!.GetValue<string>());
        return (rollout, drift);
    }

    private static string[] Verdicts(JsonNode drift) =>
        [.. drift["verdicts"]!.AsArray().Select(v => $"{v!["version"]}/{v["segment"]}: {v["decision"]} live={v["liveTotal"]} ref={v["referenceTotal"]}").Order(StringComparer.Ordinal)];

    private static async Task<TimeSpan> WaitDeclaredDeadAsync(ProcessCluster cluster, int siloPort, Stopwatch since)
    {
        while (await cluster.MembershipStatusAsync(siloPort) != "Dead")
        {
            Assert.True(since.Elapsed < TimeSpan.FromSeconds(90), $"silo on port {siloPort} not declared dead in 90 s");
            await Task.Delay(100);
        }

        return since.Elapsed;
    }

    private static async Task<TimeSpan> WaitServedAsync(HttpClient http, string path, Stopwatch since)
    {
        while (true)
        {
            try
            {
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                using var response = await http.GetAsync(path, cts.Token);
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    return since.Elapsed;
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
            {
                // The grain's old silo is not declared dead yet, or the call timed out.
            }

            Assert.True(since.Elapsed < TimeSpan.FromSeconds(90), $"{path} not served in 90 s");
            await Task.Delay(100);
        }
    }

    private static async Task WaitActiveSilosAsync(IClusterClient grains, int count)
    {
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        var last = "";
        while (DateTime.UtcNow < until)
        {
            try
            {
                var hosts = await grains.GetGrain<IManagementGrain>(0).GetHosts(onlyActive: true).WaitAsync(TimeSpan.FromSeconds(5));
                if (hosts.Count == count)
                {
                    return;
                }

                last = $"{hosts.Count} active";
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                last = ex.Message;
            }

            await Task.Delay(250);
        }

        Assert.Fail($"the cluster did not reach {count} active silos in 60 s (last: {last})");
    }

    private static async Task<Tally> WaitCountedAsync(IClusterClient grains, List<IngestRequest> requests, TimeSpan deadline)
    {
        var until = DateTime.UtcNow + deadline;
        while (true)
        {
            var tally = await CountAsync(grains, requests);
            if ((tally.Lost == 0 && tally.Partial == 0) || DateTime.UtcNow > until)
            {
                return tally;
            }

            await Task.Delay(500);
        }
    }

    private static async Task<Tally> CountAsync(IClusterClient grains, List<IngestRequest> requests)
    {
        var counted = new long[requests.Count][];
        await Parallel.ForEachAsync(Enumerable.Range(0, requests.Count), new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (i, _) =>
        {
            var view = await grains.GetGrain<ISegmentMatrixGrain>(Segments.MatrixKey(Model, "v1", requests[i].Segment)).GetMatrixAsync(null);
            counted[i] = view.Matrix.ClassCount == 0 ? new long[4] : [.. view.Matrix.ToRows().SelectMany(row => row)];
        });

        var tally = new Tally();
        for (var i = 0; i < requests.Count; i++)
        {
            var request = requests[i];
            var cells = counted[i];
            var sum = cells.Sum();
            tally.CountedTotal += sum;
            if (cells.SequenceEqual(request.Cells))
            {
                tally.UnknownCounted += request.Outcome == IngestOutcome.Unknown ? 1 : 0;
                continue;
            }

            if (request.Outcome == IngestOutcome.Unknown && sum == 0)
            {
                continue;
            }

            if (sum > request.Total)
            {
                tally.Doubled += sum - request.Total;
            }
            else if (request.Outcome == IngestOutcome.Acknowledged)
            {
                tally.Lost += request.Total - sum;
            }
            else
            {
                tally.Partial++;
            }

            tally.Problems.Add($"r{request.Id} ({request.Outcome}) sent [{string.Join(",", request.Cells)}], counted [{string.Join(",", cells)}]");
        }

        return tally;
    }

    private static async Task PostOkAsync(HttpClient http, string path, object body)
    {
        using var response = await http.PostAsJsonAsync(path, body);
        Assert.True(response.IsSuccessStatusCode, $"POST {path}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
    }

    private static async Task PutOkAsync(HttpClient http, string path, object body)
    {
        using var response = await http.PutAsJsonAsync(path, body);
        Assert.True(response.IsSuccessStatusCode, $"PUT {path}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
    }

    private static async Task<JsonNode> GetJsonAsync(HttpClient http, string path)
    {
        var text = await http.GetStringAsync(path);
        return JsonNode.Parse(text) ?? throw new InvalidOperationException($"GET {path} returned no JSON");
    }

    private sealed class Tally
    {
        public long Lost { get; set; }

        public long Doubled { get; set; }

        public int Partial { get; set; }

        public int UnknownCounted { get; set; }

        public long CountedTotal { get; set; }

        public List<string> Problems { get; } = [];
    }
}
