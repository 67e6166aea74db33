using System.Net;
using System.Text.Json;

namespace ConfusionMatrix.Silo.Tests;

/// <summary>
/// The late-label demo (samples/ConfusionMatrix.Demo) on its own process: in its first minute only confirmed fraud has been labelled, so the
/// realised recall of the degraded version on region=EU is a perfect 1.0, while the estimate from scores already shows
/// it well below.
/// </summary>
public sealed class LateLabelDemoTests
{
    [Fact]
    public async Task Early_on_the_realised_recall_is_perfect_while_the_estimate_shows_the_missed_fraud()
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
