using System.Net;
using System.Text.Json;

namespace ConfusionMatrix.Silo.Tests;

/// <summary>
/// The demo host (samples/ConfusionMatrix.Demo) on its own process, started as the README starts it, and the silo,
/// which carries no demo and says where it went.
/// </summary>
public sealed class DemoHostTests
{
    [Fact]
    public async Task FraudDemo_PausesTheCanary_ThatLostRecallOnRegionEU()
    {
        var ports = SiloProcess.FreePorts(3);
        using var demo = SiloProcess.Start(
        [
            "--demo",
            "--urls", $"http://127.0.0.1:{ports[0]}",
            $"--ConfusionMatrix:Clustering:SiloPort={ports[1]}",
            $"--ConfusionMatrix:Clustering:GatewayPort={ports[2]}",
            "--Logging:LogLevel:Default=Warning",
        ], dll: SiloBinaries.DemoDll);
        using var api = new SiloApi(new Uri($"http://127.0.0.1:{ports[0]}/"), () => demo.OutputTail());

        var state = await Eventually.MatchesAsync(
            async () =>
            {
                try
                {
                    var r = await api.GetAsync("api/v1/models/fraud-demo/rollout");
                    return r.Status == HttpStatusCode.OK ? r.Json : default;
                }
                catch (HttpRequestException)
                {
                    return default;
                }
            },
            s => s.ValueKind == JsonValueKind.Object && s.GetProperty("routing").GetProperty("phase").GetString() == "paused",
            "the drift watcher pausing the demo's canary",

            // Seconds on an idle machine; the demo's send rate, and so the evidence, falls with the machine's load.
            TimeSpan.FromSeconds(180),
            TimeSpan.FromMilliseconds(500));

        var routing = state.GetProperty("routing");
        Assert.Equal("v1", routing.GetProperty("stable").GetString());
        Assert.Equal("v2", routing.GetProperty("canary").GetString());
        Assert.Contains("Demo: model fraud-demo registered", demo.StandardOutput, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--demo")]
    [InlineData("--demo-late-labels")]
    public async Task Silo_RefusesADemoSwitch_AndNamesTheDemoHost(string demoSwitch)
    {
        using var silo = SiloProcess.Start([demoSwitch]);

        Assert.True(await silo.WaitForExitAsync(TimeSpan.FromSeconds(60)), $"The silo with {demoSwitch} was still running after 60 s.\n{silo.OutputTail()}");
        Assert.Equal(2, silo.ExitCode);
        Assert.Contains($"dotnet run --project samples/ConfusionMatrix.Demo -c Release -- {demoSwitch}", silo.StandardError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task LateLabelDemo_ShowsAPerfectRealisedRecallEarly_WhileTheEstimateShowsTheMissedFraud()
    {
        var ports = SiloProcess.FreePorts(3);
        using var silo = SiloProcess.Start(
        [
            "--demo-late-labels",
            "--urls", $"http://127.0.0.1:{ports[0]}",
            $"--ConfusionMatrix:Clustering:SiloPort={ports[1]}",
            $"--ConfusionMatrix:Clustering:GatewayPort={ports[2]}",
            "--ConfusionMatrix:Labels:ShardCount=8",
            "--Logging:LogLevel:Default=Warning",
        ], dll: SiloBinaries.DemoDll);
        using var api = new SiloApi(new Uri($"http://127.0.0.1:{ports[0]}/"), () => silo.OutputTail());
        const string matrix = "api/v1/models/fraud-late/versions/v2/segments/region%3DEU/matrix";

        // The first confirmations arrive 20 to 60 s after their predictions; wait for some confirmed fraud.
        var realised = await Eventually.MatchesAsync(
            async () =>
            {
                try
                {
                    var r = await api.GetAsync(matrix);
                    return r.Status == HttpStatusCode.OK ? r.Json : default;
                }
                catch (HttpRequestException)
                {
                    return default;
                }
            },
            m => m.ValueKind == JsonValueKind.Object && m.GetProperty("total").GetInt64() >= 20,
            "twenty labelled predictions of v2 on region=EU",
            TimeSpan.FromSeconds(90));

        var estimate = (await api.GetAsync("api/v1/models/fraud-late/versions/v2/segments/region%3DEU/estimate")).Json;
        var counts = realised.GetProperty("counts");
        Assert.Equal(0, counts[1][0].GetInt64()); // no missed fraud has been labelled yet
        Assert.Equal(1.0, realised.GetProperty("metrics").GetProperty("perClass").GetProperty("fraud").GetProperty("recall").GetDouble());
        Assert.True(realised.GetProperty("labels").GetProperty("coverage").GetDouble() < 0.2, realised.GetProperty("labels").ToString());

        var recall = estimate.GetProperty("estimated").GetProperty("recall");
        Assert.True(estimate.GetProperty("estimated").GetProperty("estimatedFromScores").GetInt64() > 1000, estimate.ToString());
        Assert.True(recall.GetProperty("upper").GetDouble() < 0.9, $"v2's estimated EU recall should show the missed fraud: {recall}");
        Assert.True(recall.GetProperty("lower").GetDouble() > 0.6, $"v2's estimated EU recall: {recall}");
    }
}
