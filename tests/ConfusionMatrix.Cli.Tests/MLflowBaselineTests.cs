using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using ConfusionMatrix.MLflow;

namespace ConfusionMatrix.Cli.Tests;

[Collection(LiveSiloCollection.Name)]
public sealed class MLflowBaselineTests(LiveSiloFixture silo)
{
    // Logged by the training job with fraud first; the silo's model lists legit first.
    private const string Logged = """{"classes":["fraud","legit"],"counts":[[370,30],[100,9500]]}""";

    [Fact]
    public async Task Silo_ResolvesABaselineByMLflowAliasOrVersion_InTheModelsClassOrder()
    {
        await silo.RegisterAsync("mlflow-model", ["legit", "fraud"]);
        silo.MLflow.Register("fraud-train", "4", "champion", Logged);
        const string path = "api/v1/models/mlflow-model/versions/v7/segments/all/baseline";

        using var byAlias = await silo.Http.PutAsJsonAsync(path, new { mlflow = new { model = "fraud-train", alias = "champion" } });
        var aliasBody = await byAlias.Content.ReadAsStringAsync();
        using var byVersion = await silo.Http.PutAsJsonAsync(path, new { mlflow = new { model = "fraud-train", version = "4" } });

        Expect.Equal(HttpStatusCode.OK, byAlias.StatusCode, aliasBody);
        Assert.Equal(HttpStatusCode.OK, byVersion.StatusCode);
        using var doc = JsonDocument.Parse(await silo.Http.GetStringAsync(path));
        Assert.Equal("holdout", doc.RootElement.GetProperty("kind").GetString());
        Assert.Equal([[9500L, 100L], [30L, 370L]], ReferenceData.Matrix(doc.RootElement.GetProperty("counts")));
    }

    [Fact]
    public async Task MLflowBaselinesThatDoNotResolve_AreClear4xxProblems()
    {
        await silo.RegisterAsync("mlflow-bad", ["legit", "fraud"]);
        silo.MLflow.Register("other-train", "1", "champion", """{"classes":["cat","dog"],"counts":[[5,1],[1,5]]}""");
        const string path = "api/v1/models/mlflow-bad/versions/v1/segments/all/baseline";

        var unknownAlias = await PutAsync(path, new { mlflow = new { model = "fraud-train", alias = "nope" } });
        var bothGiven = await PutAsync(path, new { counts = new[] { new[] { 1, 0 }, new[] { 0, 1 } }, mlflow = new { model = "fraud-train", alias = "champion" } });
        var neither = await PutAsync(path, new { mlflow = new { model = "fraud-train" } });
        var otherClasses = await PutAsync(path, new { mlflow = new { model = "other-train", alias = "champion" } });

        Assert.Equal((HttpStatusCode.NotFound, true), (unknownAlias.Status, unknownAlias.Detail.Contains("RESOURCE_DOES_NOT_EXIST")));
        Assert.Equal(HttpStatusCode.BadRequest, bothGiven.Status);
        Assert.Equal((HttpStatusCode.BadRequest, true), (neither.Status, neither.Detail.Contains("exactly one of an MLflow alias and a model version")));
        Assert.Equal((HttpStatusCode.BadRequest, true), (otherClasses.Status, otherClasses.Detail.Contains("[cat, dog]")));
    }

    [Fact]
    public async Task BaselinePushAndPull_MoveAMatrixBetweenAFileMLflowAndTheSilo()
    {
        await silo.RegisterAsync("push-model", ["legit", "fraud"]);
        var runId = silo.MLflow.Register("push-train", "2", "candidate");
        var dir = CliRunner.TempDirectory();
        var file = Path.Combine(dir, "confusion_matrix.json");
        await File.WriteAllTextAsync(file, Logged);
        var tracking = silo.MLflow.Address.ToString();
        var url = silo.BaseAddress.ToString();

        var toMLflow = await CliRunner.RunAsync("baseline", "push", file, "--to", "mlflow:push-train@candidate", "--tracking-uri", tracking);
        var toSilo = await CliRunner.RunAsync("baseline", "push", "mlflow:push-train/2", "--to", url, "--model", "push-model", "--version", "v3", "--tracking-uri", tracking);
        var pulled = Path.Combine(dir, "pulled.json");
        var fromSilo = await CliRunner.RunAsync("baseline", "pull", url, "--model", "push-model", "--version", "v3", "-o", pulled);
        var unknownModel = await CliRunner.RunAsync("baseline", "push", file, "--to", url, "--model", "nobody", "--version", "v1");

        Expect.Equal(0, toMLflow.ExitCode, toMLflow.ToString());
        Assert.Equal(Logged.Replace(" ", ""), System.Text.Encoding.UTF8.GetString(silo.MLflow.Artifact(runId, "confusion_matrix.json")!).Replace(" ", "").Replace("\n", "").Replace("\r", ""));
        Expect.Equal(0, toSilo.ExitCode, toSilo.ToString());
        Expect.Equal(0, fromSilo.ExitCode, fromSilo.ToString());
        var back = ConfusionMatrixArtifact.Parse(await File.ReadAllBytesAsync(pulled));
        Assert.Equal(["legit", "fraud"], back.Classes);
        Assert.Equal([[9500L, 100L], [30L, 370L]], back.Counts);
        Expect.Equal(2, unknownModel.ExitCode, unknownModel.ToString());
        Assert.Contains("404", unknownModel.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task BadTrackingUri_StopsTheSiloAtStart_WithOneLineNamingTheKey()
    {
        var ports = SiloProcess.FreePorts(3);
        using var bad = SiloProcess.Start(
        [
            "--urls", $"http://127.0.0.1:{ports[0]}",
            $"--ConfusionMatrix:Clustering:SiloPort={ports[1]}",
            $"--ConfusionMatrix:Clustering:GatewayPort={ports[2]}",
            "--ConfusionMatrix:MLflow:TrackingUri=mlflow.internal:5000",
        ]);

        Assert.True(await bad.WaitForExitAsync(TimeSpan.FromSeconds(60)), bad.OutputTail());
        Assert.NotEqual(0, bad.ExitCode);
        Assert.Contains("ConfusionMatrix:MLflow:TrackingUri must be an absolute http(s) URL", bad.StandardOutput + bad.StandardError);
    }

    private async Task<(HttpStatusCode Status, string Detail)> PutAsync(string path, object body)
    {
        using var response = await silo.Http.PutAsJsonAsync(path, body);
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }
}
