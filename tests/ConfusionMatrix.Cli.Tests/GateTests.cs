namespace ConfusionMatrix.Cli.Tests;

[Collection(LiveSiloCollection.Name)]
public sealed class GateTests(LiveSiloFixture silo)
{
    [Fact]
    public async Task ExitCode_IsTheLiveGatesAnswer()
    {
        await silo.RegisterAsync("gate-model", ["legit", "fraud"]);
        var url = silo.BaseAddress.ToString();

        silo.MLflow.Register("gate-train", "5", "canary");
        var idle = await CliRunner.RunAsync("gate", "--url", url, "--model", "gate-model", "--tag-mlflow", "mlflow:gate-train@canary", "--tracking-uri", silo.MLflow.Address.ToString());

        await silo.PostAsync("api/v1/models/gate-model/rollout/set-stable", new { version = "v1", actor = "ci" });
        await silo.PostAsync("api/v1/models/gate-model/rollout/start-canary", new { version = "v2", weight = 10, actor = "ci" });
        await silo.PostAsync("api/v1/models/gate-model/rollout/pause", new { actor = "ci", reason = "inspect" });
        var paused = await CliRunner.RunAsync("gate", "--url", url, "--model", "gate-model", "--wait", "5s", "--interval", "1s");

        // Nothing measured is never a pass: with no canary the gate is inconclusive.
        Expect.Equal(3, idle.ExitCode, idle.ToString());
        Assert.Contains("INCONCLUSIVE", idle.Out);
        Assert.Equal("inconclusive", silo.MLflow.Tags[("gate-train", "5", "confusionmatrix.gate")]);
        Assert.Equal("no canary in progress: nothing to judge", silo.MLflow.Tags[("gate-train", "5", "confusionmatrix.gate.reason")]);
        Expect.Equal(1, paused.ExitCode, paused.ToString());
        Assert.Contains("canary v2 is paused", paused.Out);
    }

    [Fact]
    public async Task UnreachableSilo_Exits2_AfterTheWait()
    {
        var port = SiloProcess.FreePorts(1)[0];

        var result = await CliRunner.RunAsync("gate", "--url", $"http://127.0.0.1:{port}", "--model", "m", "--wait", "2s", "--interval", "500ms");

        Expect.Equal(2, result.ExitCode, result.ToString());
        Assert.Contains("did not answer", result.Error);
    }

    [Theory]
    [InlineData("""{"pass":true,"reason":"ok","phase":"Progressing"}""", 0)]
    [InlineData("""{"pass":false,"reason":"drift","phase":"Paused"}""", 1)]
    [InlineData("""{"pass":false,"inconclusive":true,"reason":"not enough evidence yet","phase":"Progressing"}""", 3)]
    [InlineData("""{"pass":true,"inconclusive":true,"reason":"odd","phase":"Progressing"}""", 3)]
    public void Inconclusive_IsNeverAPass(string json, int exitCode) => Assert.Equal(exitCode, GateAnswer.Parse(json).ExitCode);
}
