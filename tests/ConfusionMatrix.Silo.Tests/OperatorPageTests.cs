using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json;

namespace ConfusionMatrix.Silo.Tests;

/// <summary>
/// The operator page at /ui/ in Debian's headless Chromium, driven by playwright-core (scripts/ops-check.sh installs it
/// into .tools/ops): log in with an API key, read a canary's matrix whose numbers are known, pause the canary with a
/// reason. The silo runs with API keys configured; the screenshot stays in TestResults/ui/operator-page.png.
/// </summary>
public sealed class OperatorPageTests : IAsyncLifetime
{
    private const string Chromium = "/usr/bin/chromium";
    private const string KeyName = "ops-alice";
    private const string Model = "ui-fraud";
    private static readonly string[] Classes = ["legit", "fraud", "review"];
    private static readonly string[] Windows = ["1h", "24h", "7d", "all"];

    private readonly string _apiKey = Convert.ToHexString(Guid.NewGuid().ToByteArray()).ToLowerInvariant();
    private SiloProcess? _silo;
    private SiloApi _api = null!;
    private Uri _baseAddress = null!;

    public async Task InitializeAsync()
    {
        var ports = SiloProcess.FreePorts(3);
        _baseAddress = new Uri($"http://127.0.0.1:{ports[0]}/");
        _silo = SiloProcess.Start(
            [
                "--urls", $"http://127.0.0.1:{ports[0]}",
                $"--ConfusionMatrix:Clustering:SiloPort={ports[1]}",
                $"--ConfusionMatrix:Clustering:GatewayPort={ports[2]}",
                "--Logging:LogLevel:Default=Warning",
            ],
            new Dictionary<string, string>
            {
                ["ConfusionMatrix__Auth__Mode"] = "ApiKey",
                [$"ConfusionMatrix__Auth__ApiKeys__{KeyName}__Key"] = _apiKey,
                [$"ConfusionMatrix__Auth__ApiKeys__{KeyName}__Roles__0"] = "operator",
                [$"ConfusionMatrix__Auth__ApiKeys__{KeyName}__Roles__1"] = "ingest",
                [$"ConfusionMatrix__Auth__ApiKeys__{KeyName}__Roles__2"] = "admin",
                [$"ConfusionMatrix__Auth__ApiKeys__{KeyName}__Roles__3"] = "viewer",
            });
        _api = new SiloApi(_baseAddress, () => _silo.OutputTail());
        _api.Http.DefaultRequestHeaders.Add("X-API-Key", _apiKey);

        var clock = Stopwatch.StartNew();
        while (true)
        {
            Assert.False(_silo.HasExited, $"The silo exited with code {(_silo.HasExited ? _silo.ExitCode : 0)} during startup.\n{_silo.OutputTail()}");
            try
            {
                using var response = await _api.Http.GetAsync("health");
                if (response.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }

            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), $"The silo did not become healthy within 60 s.\n{_silo.OutputTail()}");
            await Task.Delay(250);
        }
    }

    public Task DisposeAsync()
    {
        _api?.Dispose();
        _silo?.Dispose();
        return Task.CompletedTask;
    }

    [Fact]
    public async Task Operator_LogsInReadsTheCanaryMatrixAndPausesIt_InHeadlessChromium()
    {
        Assert.True(File.Exists(Chromium), $"{Chromium} is missing: scripts/test.sh installs Debian's chromium package.");
        var tools = Path.Combine(SiloBinaries.RepositoryRoot, ".tools", "ops");
        Assert.True(File.Exists(Path.Combine(tools, "node_modules", "playwright-core", "package.json")),
            $"playwright-core is missing from {tools}: run scripts/ops-check.sh --install-only (scripts/test.sh does).");

        await _api.RegisterModelAsync(Model, Classes, "fraud", ["region"]);
        var stable = Traffic("v1", 240, seed: 3);
        var canary = Traffic("v2", 360, seed: 11);
        foreach (var batch in new[] { stable, canary })
        {
            var posted = await _api.PostPredictionsAsync(batch);
            Expect.Status(HttpStatusCode.Accepted, posted);
        }

        await _api.WaitForTotalAsync(Model, "v1", "all", stable.Count);
        await _api.WaitForTotalAsync(Model, "v2", "all", canary.Count);
        var rollout = $"api/v1/models/{Model}/rollout";
        var set = await _api.PostJsonAsync($"{rollout}/set-stable", new { version = "v1", reason = "first release" });
        Expect.Status(HttpStatusCode.OK, set);
        var started = await _api.PostJsonAsync($"{rollout}/start-canary", new { version = "v2", weight = 20, reason = "try v2" });
        Expect.Status(HttpStatusCode.OK, started);
        var evaluated = await _api.PostJsonAsync($"api/v1/models/{Model}/drift/evaluate", new { });
        Expect.Status(HttpStatusCode.OK, evaluated);
        var verdicts = evaluated.Json.GetProperty("verdicts").GetArrayLength();
        Assert.True(verdicts > 0, evaluated.ToString());
        var me = await _api.GetAsync("api/v1/me");

        var screenshot = Path.Combine(SiloBinaries.RepositoryRoot, "tests", "ConfusionMatrix.Silo.Tests", "TestResults", "ui", "operator-page.png");
        Directory.CreateDirectory(Path.GetDirectoryName(screenshot)!);
        File.Delete(screenshot);
        const string reason = "precision of fraud looks low on the canary";
        var page = await DriveAsync(new
        {
            opsTools = tools,
            chromium = Chromium,
            baseUrl = _baseAddress.ToString(),
            apiKey = _apiKey,
            model = Model,
            version = "v2",
            segment = "all",
            classes = Classes,
            windows = Windows,
            reason,
            screenshot,
        });

        // Logged in: the key was kept for the session and sent with every API call the page made.
        Assert.Equal(_apiKey, page.GetProperty("storedKey").GetString());
        var requests = page.GetProperty("requests").EnumerateArray().ToList();
        Assert.Contains(requests, r => r.GetProperty("url").GetString()!.EndsWith("/matrix?window=all", StringComparison.Ordinal));
        Assert.All(requests, r => Assert.Equal(_apiKey, r.GetProperty("apiKey").GetString()));
        if (me.Status == HttpStatusCode.OK)
        {
            Assert.Contains(KeyName, page.GetProperty("identity").GetString());
        }

        // The heatmap: each cell's count, and its share of the row (actual class) as the percentage shown.
        var counts = Count(canary);
        var cells = page.GetProperty("cells");
        var backgrounds = new HashSet<string>();
        for (var a = 0; a < Classes.Length; a++)
        {
            var rowTotal = Enumerable.Range(0, Classes.Length).Sum(p => counts[a, p]);
            for (var p = 0; p < Classes.Length; p++)
            {
                var cell = cells.GetProperty($"{Classes[a]}|{Classes[p]}");
                Assert.Equal(counts[a, p].ToString(CultureInfo.InvariantCulture), cell.GetProperty("count").GetString());
                var shown = cell.GetProperty("text").GetString()!;
                Assert.EndsWith("%", shown);
                var expected = 100.0 * counts[a, p] / rowTotal;
                Assert.True(Math.Abs(double.Parse(shown.TrimEnd('%'), CultureInfo.InvariantCulture) - expected) <= 0.05,
                    $"cell actual {Classes[a]} predicted {Classes[p]} shows {shown}, expected {expected:F2}%");
                Assert.Contains($"{counts[a, p]} of {rowTotal}", cell.GetProperty("title").GetString());
                backgrounds.Add(cell.GetProperty("background").GetString()!);
            }
        }

        Assert.True(backgrounds.Count > 1, "every heatmap cell has the same colour");
        Assert.Equal(canary.Count.ToString(CultureInfo.InvariantCulture), page.GetProperty("total").GetString());

        // Per-class recall (diagonal over row) and precision (diagonal over column) in every window: all traffic is recent.
        var metrics = page.GetProperty("metrics");
        for (var c = 0; c < Classes.Length; c++)
        {
            var recall = (double)counts[c, c] / Enumerable.Range(0, Classes.Length).Sum(p => counts[c, p]);
            var precision = (double)counts[c, c] / Enumerable.Range(0, Classes.Length).Sum(a => counts[a, c]);
            foreach (var window in Windows)
            {
                ShownAs(recall, metrics.GetProperty($"recall|{Classes[c]}|{window}").GetString(), $"recall of {Classes[c]} over {window}");
                ShownAs(precision, metrics.GetProperty($"precision|{Classes[c]}|{window}").GetString(), $"precision of {Classes[c]} over {window}");
            }
        }

        Assert.Equal("100.0%", page.GetProperty("coverage").GetString());
        Assert.Equal(canary.Count.ToString(CultureInfo.InvariantCulture), page.GetProperty("labelled").GetString());

        // One row per drift verdict the silo reported.
        Assert.Equal(verdicts, page.GetProperty("verdictRows").GetInt32());

        // Pause through the page, then check over HTTP that the canary is paused for the reason given.
        Assert.Equal("progressing", page.GetProperty("phaseBefore").GetString());
        Assert.Equal("paused", page.GetProperty("phaseAfter").GetString());
        var state = (await _api.GetAsync(rollout)).Json;
        Assert.Equal("paused", state.GetProperty("routing").GetProperty("phase").GetString());
        Assert.Equal("v2", state.GetProperty("routing").GetProperty("canary").GetString());
        var last = state.GetProperty("history").EnumerateArray().Last();
        Assert.Equal("pause", last.GetProperty("action").GetString());
        Assert.Equal(reason, last.GetProperty("reason").GetString());
        if (me.Status == HttpStatusCode.OK)
        {
            Assert.Equal(KeyName, last.GetProperty("actor").GetString());
        }

        // The screenshot is kept: a PNG of the whole page, tall enough to hold the heatmap below the model form.
        var png = await File.ReadAllBytesAsync(screenshot);
        Assert.True(png.Length > 10_000, $"{screenshot} has only {png.Length} bytes");
        Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G'], png[..4]);
        var width = System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(16, 4));
        var height = System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(20, 4));
        Assert.True(width >= 1000 && height >= 800, $"screenshot is {width}x{height}");
    }

    /// <summary>The page shows ratios with three decimals.</summary>
    private static void ShownAs(double expected, string? shown, string what)
    {
        Assert.True(double.TryParse(shown, NumberStyles.Float, CultureInfo.InvariantCulture, out var value), $"{what}: shown as '{shown}'");
        Assert.True(Math.Abs(value - expected) <= 0.0005, $"{what}: shown {shown}, expected {expected:F4}");
    }

    /// <summary>Deterministic traffic of one version: mostly right, with each class confused with the others at its own rate.</summary>
    private static List<Prediction> Traffic(string version, int count, int seed)
    {
        var random = new Random(seed);
        var predictions = new List<Prediction>(count);
        for (var i = 0; i < count; i++)
        {
            var actual = i % 10 < 6 ? 0 : i % 10 < 8 ? 1 : 2;
            var predicted = random.NextDouble() switch
            {
                < 0.7 => actual,
                < 0.85 => (actual + 1) % Classes.Length,
                _ => (actual + 2) % Classes.Length,
            };
            predictions.Add(new Prediction($"{version}-{i}", Model, version, Classes[predicted], Classes[actual],
                Segments: new Dictionary<string, string> { ["region"] = i % 3 == 0 ? "EU" : "US" }));
        }

        return predictions;
    }

    private static long[,] Count(IEnumerable<Prediction> predictions)
    {
        var counts = new long[Classes.Length, Classes.Length];
        foreach (var p in predictions)
        {
            counts[Array.IndexOf(Classes, p.Actual), Array.IndexOf(Classes, p.Predicted)]++;
        }

        return counts;
    }

    /// <summary>Runs the playwright-core script; returns what it read from the page.</summary>
    private async Task<JsonElement> DriveAsync(object settings)
    {
        var script = Path.Combine(SiloBinaries.RepositoryRoot, "tests", "ConfusionMatrix.Silo.Tests", "OperatorPage", "drive-operator-page.cjs");
        var start = new ProcessStartInfo("node")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(script);
        start.ArgumentList.Add(JsonSerializer.Serialize(settings));
        using var node = Process.Start(start)!;
        var stdout = node.StandardOutput.ReadToEndAsync();
        var stderr = node.StandardError.ReadToEndAsync();
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(150));
        try
        {
            await node.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            node.Kill(entireProcessTree: true);
            Assert.Fail($"the browser script did not finish within 150 s\n{await stderr}\n{_silo!.OutputTail()}");
        }

        var output = await stdout;
        JsonElement result;
        try
        {
            result = JsonDocument.Parse(output).RootElement;
        }
        catch (JsonException)
        {
            throw new Xunit.Sdk.XunitException($"the browser script printed no result (exit {node.ExitCode}):\n{output}\n{await stderr}");
        }

        var failure = $"the browser script failed (exit {node.ExitCode}): {output}\n{await stderr}\n{_silo!.OutputTail()}";
        Expect.Equal(0, node.ExitCode, failure);
        Assert.True(result.GetProperty("ok").GetBoolean(), failure);
        return result;
    }
}
