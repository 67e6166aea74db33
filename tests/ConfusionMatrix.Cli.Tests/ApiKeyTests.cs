using System.Diagnostics;

namespace ConfusionMatrix.Cli.Tests;

/// <summary>cmx against a silo that requires API keys: the key comes from CMX_API_KEY.</summary>
public sealed class ApiKeyTests
{
    [Fact]
    public async Task Gate_SendsTheKeyFromCmxApiKey_AndIsRefusedWithoutIt()
    {
        const string key = "cli-viewer-key-0123456789";
        var ports = SiloProcess.FreePorts(3);
        using var silo = SiloProcess.Start(
            [
                "--urls", $"http://127.0.0.1:{ports[0]}",
                $"--ConfusionMatrix:Clustering:SiloPort={ports[1]}",
                $"--ConfusionMatrix:Clustering:GatewayPort={ports[2]}",
                "--ConfusionMatrix:Auth:Mode=ApiKey",
                $"--ConfusionMatrix:Auth:ApiKeys:ci:Key={key}",
                "--ConfusionMatrix:Auth:ApiKeys:ci:Roles:0=viewer",
                "--Logging:LogLevel:Default=Warning",
            ]);
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{ports[0]}/") };
        var clock = Stopwatch.StartNew();
        while (true)
        {
            Assert.False(silo.HasExited, silo.OutputTail());
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), $"not healthy in 60 s\n{silo.OutputTail()}");
            try
            {
                if ((await http.GetAsync("health")).IsSuccessStatusCode)
                {
                    break;
                }
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }

            await Task.Delay(250);
        }

        var url = $"http://127.0.0.1:{ports[0]}";
        var refused = await RunAsync(new Dictionary<string, string>(), "gate", "--url", url, "--model", "cli-auth");
        var allowed = await RunAsync(new Dictionary<string, string> { ["CMX_API_KEY"] = key }, "gate", "--url", url, "--model", "cli-auth");

        Expect.NotEqual(0, refused.ExitCode, refused.ToString());
        Assert.Contains("401", refused.Error, StringComparison.Ordinal);
        // With the key the gate answers: with no canary in progress there is nothing to judge, which is inconclusive (3).
        Expect.Equal(3, allowed.ExitCode, allowed.ToString());
        Assert.Contains("INCONCLUSIVE", allowed.Out, StringComparison.Ordinal);
        Assert.DoesNotContain("401", allowed.Error, StringComparison.Ordinal);
    }

    private static async Task<CliResult> RunAsync(IReadOnlyDictionary<string, string> environment, params string[] args)
    {
        using var process = CliRunner.Start(environment, args);
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        return new CliResult(process.ExitCode, await output, await error);
    }
}
