using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace ConfusionMatrix.Durability.Tests;

/// <summary>
/// (f) A silo process on Azure Table storage and Azure Queue streams is killed with SIGKILL while it is still working
/// through acknowledged predictions, and started again: every prediction that got a 202 is counted, exactly once.
/// </summary>
[Collection(DurabilityCollection.Name)]
public sealed partial class ProcessKillTests(AzuriteFixture fixture)
{
    private static readonly string[] Classes = ["neg", "pos"];
    private static readonly string[] Regions = ["EU", "US", "APAC"];

    [Fact]
    public async Task F_SiloProcessKilledAndRestarted_KeepsEveryAcknowledgedPrediction()
    {
        var ports = SiloProcess.FreePorts(3);
        var serviceId = $"sigkill{Guid.NewGuid():N}"[..16];
        string[] Arguments() => DurableSiloArguments(ports, serviceId);

        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{ports[0]}/"), Timeout = TimeSpan.FromSeconds(60) };
        var expected = new Dictionary<string, long[]>(StringComparer.Ordinal);
        long acknowledged = 0;
        var random = new Random(17);

        var silo = SiloProcess.Start(Arguments());
        try
        {
            await WaitHealthyAsync(http, silo);
            var registered = await http.PostAsJsonAsync("api/v1/models", new { model = "sigkill", classes = Classes, positiveClass = "pos", segmentDimensions = new[] { "region" } });
            Assert.True(registered.IsSuccessStatusCode, await registered.Content.ReadAsStringAsync());
            for (var r = 0; r < 10; r++)
            {
                acknowledged += await PostAsync(http, random, r, expected);
            }
        }
        finally
        {
            // SIGKILL, by process id, while batches are still queued or being applied.
            silo.Dispose();
        }

        silo = SiloProcess.Start(Arguments());
        try
        {
            await WaitHealthyAsync(http, silo);
            for (var r = 10; r < 15; r++)
            {
                acknowledged += await PostAsync(http, random, r, expected);
            }

            Assert.Equal(15 * 400, acknowledged);
            var until = DateTime.UtcNow + TimeSpan.FromSeconds(120);
            while (!await MatchesAsync(http, expected, failHard: false))
            {
                if (DateTime.UtcNow > until)
                {
                    await MatchesAsync(http, expected, failHard: true);
                }

                await Task.Delay(250);
            }

            // Hold: a late redelivery counted twice would show up here.
            var hold = DateTime.UtcNow + TimeSpan.FromSeconds(6);
            while (DateTime.UtcNow < hold)
            {
                await MatchesAsync(http, expected, failHard: true);
                await Task.Delay(500);
            }
        }
        finally
        {
            silo.Dispose();
        }
    }

    /// <summary>
    /// (g) Predictions logged without their label and labels sent later, with a SIGKILL between and during label
    /// requests: after the restart (and the client's retries of anything not acknowledged, plus a replay of a batch
    /// that was) every label counts exactly once, and nothing waits any more.
    /// </summary>
    [Fact]
    public async Task G_PendingPredictionsAndLabelsSurviveSigkill_AndRetriesCountOnce()
    {
        var ports = SiloProcess.FreePorts(3);
        var serviceId = $"labels{Guid.NewGuid():N}"[..16];
        string[] Arguments() => DurableSiloArguments(ports, serviceId, "--ConfusionMatrix:Labels:ShardCount=8", "--ConfusionMatrix:Labels:SweepInterval=00:00:01");

        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{ports[0]}/"), Timeout = TimeSpan.FromSeconds(60) };
        var random = new Random(23);
        var rows = new List<(string Id, string Region, int Actual, int Predicted)>();
        for (var i = 0; i < 1800; i++)
        {
            var actual = random.Next(2);
            rows.Add(($"w{i}", Regions[random.Next(Regions.Length)], actual, random.NextDouble() < 0.85 ? actual : 1 - actual));
        }

        string LabelsJson(IEnumerable<(string Id, string Region, int Actual, int Predicted)> part) => JsonSerializer.Serialize(
            part.Select(r => new { model = "sigkill-labels", predictionId = r.Id, actual = Classes[r.Actual], labelTime = "2026-01-01T00:00:00Z" }));

        var silo = SiloProcess.Start(Arguments());
        Task<HttpResponseMessage>? inFlight = null;
        try
        {
            await WaitHealthyAsync(http, silo);
            var registered = await http.PostAsJsonAsync("api/v1/models", new { model = "sigkill-labels", classes = Classes, positiveClass = "pos", segmentDimensions = new[] { "region" } });
            Assert.True(registered.IsSuccessStatusCode, await registered.Content.ReadAsStringAsync());
            foreach (var chunk in rows.Chunk(300))
            {
                var body = JsonSerializer.Serialize(chunk.Select(r => new
                {
                    predictionId = r.Id,
                    model = "sigkill-labels",
                    version = "v1",
                    predicted = Classes[r.Predicted],
                    segments = new { region = r.Region },
                }));
                using var response = await http.PostAsync("api/v1/predictions", new StringContent(body, Encoding.UTF8, "application/json"));
                Assert.Equal(202, (int)response.StatusCode);
            }

            // Half the labels are acknowledged before the kill; the next request is in flight when it happens.
            await PostLabelsUntilAcknowledgedAsync(http, LabelsJson(rows.Take(900)));
            inFlight = http.PostAsync("api/v1/labels", new StringContent(LabelsJson(rows.Skip(900).Take(300)), Encoding.UTF8, "application/json"));
            await Task.Delay(30);
        }
        finally
        {
            silo.Dispose();
        }

        try
        {
            await inFlight!;
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
        {
            // Killed under it: the client does not know, so it sends the batch again below.
        }

        silo = SiloProcess.Start(Arguments());
        try
        {
            await WaitHealthyAsync(http, silo);
            await PostLabelsUntilAcknowledgedAsync(http, LabelsJson(rows.Skip(900).Take(300)));
            await PostLabelsUntilAcknowledgedAsync(http, LabelsJson(rows.Skip(1200)));
            await PostLabelsUntilAcknowledgedAsync(http, LabelsJson(rows.Take(300))); // a replay of an acknowledged batch

            var expected = new Dictionary<string, long[]>(StringComparer.Ordinal);
            foreach (var r in rows)
            {
                Bump(expected, "all", r.Actual, r.Predicted);
                Bump(expected, $"region={r.Region}", r.Actual, r.Predicted);
            }

            var until = DateTime.UtcNow + TimeSpan.FromSeconds(120);
            while (!await MatchesAsync(http, expected, failHard: false, model: "sigkill-labels"))
            {
                if (DateTime.UtcNow > until)
                {
                    await MatchesAsync(http, expected, failHard: true, model: "sigkill-labels");
                }

                await Task.Delay(250);
            }

            var stats = JsonDocument.Parse(await http.GetStringAsync("api/v1/models/sigkill-labels/labels")).RootElement;
            Assert.Equal(0, stats.GetProperty("pending").GetInt64());
            Assert.Equal(1800, stats.GetProperty("labelledCorrectable").GetInt64());
            Assert.Equal(1800, stats.GetProperty("applied").GetInt64());
            var all = JsonDocument.Parse(await http.GetStringAsync("api/v1/models/sigkill-labels/versions/v1/segments/all/matrix")).RootElement;
            Assert.Equal(0, all.GetProperty("labels").GetProperty("pending").GetInt64());
        }
        finally
        {
            silo.Dispose();
        }
    }

    private static async Task PostLabelsUntilAcknowledgedAsync(HttpClient http, string body)
    {
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (true)
        {
            using var response = await http.PostAsync("api/v1/labels", new StringContent(body, Encoding.UTF8, "application/json"));
            var text = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode is < HttpStatusCode.InternalServerError or HttpStatusCode.ServiceUnavailable, text);
            if ((int)response.StatusCode == 202 && JsonDocument.Parse(text).RootElement.GetProperty("rejectedCount").GetInt32() == 0)
            {
                return;
            }

            Assert.True(DateTime.UtcNow < until, $"labels not acknowledged: {text}");
            await Task.Delay(500);
        }
    }

    private static async Task<int> PostAsync(HttpClient http, Random random, int request, Dictionary<string, long[]> expected)
    {
        var body = new StringBuilder("[");
        var rows = new List<(string Region, int Actual, int Predicted)>();
        for (var i = 0; i < 400; i++)
        {
            var actual = random.Next(2);
            var predicted = random.NextDouble() < 0.85 ? actual : 1 - actual;
            var region = Regions[random.Next(Regions.Length)];
            rows.Add((region, actual, predicted));
            body.Append(i == 0 ? "" : ",").Append(JsonSerializer.Serialize(new
            {
                predictionId = $"r{request}-{i}",
                model = "sigkill",
                version = "v1",
                actual = Classes[actual],
                predicted = Classes[predicted],
                segments = new { region },
            }));
        }

        body.Append(']');
        using var response = await http.PostAsync("api/v1/predictions", new StringContent(body.ToString(), Encoding.UTF8, "application/json"));
        var text = await response.Content.ReadAsStringAsync();
        Expect.Equal(HttpStatusCode.Accepted, response.StatusCode, text);
        var accepted = JsonDocument.Parse(text).RootElement.GetProperty("accepted").GetInt32();
        Assert.Equal(400, accepted);
        foreach (var (region, actual, predicted) in rows)
        {
            Bump(expected, "all", actual, predicted);
            Bump(expected, $"region={region}", actual, predicted);
        }

        return accepted;
    }

    private static void Bump(Dictionary<string, long[]> expected, string segment, int actual, int predicted)
    {
        if (!expected.TryGetValue(segment, out var cells))
        {
            cells = new long[4];
            expected[segment] = cells;
        }

        cells[(actual * 2) + predicted]++;
    }

    /// <summary>A silo process on loopback with Azure Table storage and membership and Azure Queue streams on the fixture's Azurite.</summary>
    private string[] DurableSiloArguments(int[] ports, string serviceId, params string[] extra) =>
    [
        "--urls", $"http://127.0.0.1:{ports[0]}",
        $"--ConfusionMatrix:Clustering:SiloPort={ports[1]}",
        $"--ConfusionMatrix:Clustering:GatewayPort={ports[2]}",
        $"--ConfusionMatrix:Clustering:ServiceId={serviceId}",
        $"--ConfusionMatrix:Clustering:ClusterId={serviceId}",
        "--ConfusionMatrix:Storage:Provider=AzureTable",
        $"--ConfusionMatrix:Storage:ConnectionString={fixture.Azurite.ConnectionString}",
        "--ConfusionMatrix:Streams:Provider=AzureQueue",
        "--ConfusionMatrix:Streams:VisibilitySeconds=5",
        "--ConfusionMatrix:Streams:PollMilliseconds=50",
        .. extra,
    ];

    private static async Task<bool> MatchesAsync(HttpClient http, Dictionary<string, long[]> expected, bool failHard, string model = "sigkill")
    {
        foreach (var (segment, cells) in expected)
        {
            var json = await http.GetStringAsync($"api/v1/models/{model}/versions/v1/segments/{Uri.EscapeDataString(segment)}/matrix");
            var counts = JsonDocument.Parse(json).RootElement.GetProperty("counts");
            var actual = counts.EnumerateArray().SelectMany(row => row.EnumerateArray().Select(c => c.GetInt64())).ToArray();
            if (!actual.SequenceEqual(cells))
            {
                Assert.False(failHard, $"{segment}: acknowledged [{string.Join(",", cells)}], counted [{string.Join(",", actual)}]");
                return false;
            }
        }

        return true;
    }

    private static async Task WaitHealthyAsync(HttpClient http, SiloProcess silo)
    {
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(90);
        while (true)
        {
            Assert.False(silo.HasExited, silo.OutputTail());
            try
            {
                using var response = await http.GetAsync("health");
                if (response.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }

            Assert.True(DateTime.UtcNow < until, $"silo not healthy in time\n{silo.OutputTail()}");
            await Task.Delay(200);
        }
    }
}
