using System.Net;
using ConfusionMatrix.MLflow;

namespace ConfusionMatrix.Cli.Tests;

/// <summary>The MLflow client against an in-process server implementing MLflow's documented REST endpoints.</summary>
public sealed class MLflowClientTests
{
    private const string Matrix = """{"classes":["legit","fraud"],"counts":[[9500,100],[30,370]]}""";

    [Fact]
    public async Task AliasAndVersion_ResolveToTheRunsConfusionMatrix_WithTheToken()
    {
        await using var server = await FakeMLflowServer.StartAsync();
        var runId = server.Register("fraud", "7", "champion", Matrix);
        using var http = new HttpClient();
        var client = new MLflowClient(http, new MLflowOptions { TrackingUri = server.Address, Token = "s3cret" });

        var byAlias = await client.GetBaselineAsync(new MLflowModelReference("fraud", "champion", null));
        var byVersion = await client.GetBaselineAsync(new MLflowModelReference("fraud", null, "7"));

        Assert.Equal("7", byAlias.ModelVersion.Version);
        Assert.Equal(runId, byAlias.Run.RunId);
        Assert.Equal(["legit", "fraud"], byAlias.Matrix.Classes);
        Assert.Equal([[9500L, 100L], [30L, 370L]], byAlias.Matrix.Counts);
        Assert.Equal(byAlias.Matrix.Counts, byVersion.Matrix.Counts);
        Assert.All(server.Authorizations, a => Assert.Equal("Bearer s3cret", a));
    }

    [Fact]
    public async Task MissingAliasVersionOrArtifact_IsANotFound_WithMLflowsErrorCode()
    {
        await using var server = await FakeMLflowServer.StartAsync();
        server.Register("fraud", "1", "no-matrix");
        using var http = new HttpClient();
        var client = new MLflowClient(http, new MLflowOptions { TrackingUri = server.Address });

        var alias = await Assert.ThrowsAsync<MLflowException>(() => client.GetBaselineAsync(new MLflowModelReference("fraud", "champion", null)));
        var version = await Assert.ThrowsAsync<MLflowException>(() => client.GetBaselineAsync(new MLflowModelReference("fraud", null, "9")));
        var artifact = await Assert.ThrowsAsync<MLflowException>(() => client.GetBaselineAsync(new MLflowModelReference("fraud", "no-matrix", null)));

        Assert.True(alias.IsNotFound, alias.Message);
        Expect.Equal(HttpStatusCode.NotFound, alias.StatusCode, alias.Message);
        Expect.Equal("RESOURCE_DOES_NOT_EXIST", alias.ErrorCode, alias.Message);
        Assert.True(version.IsNotFound, version.Message);
        Assert.True(artifact.IsNotFound && artifact.Message.Contains("no confusion_matrix.json"), artifact.Message);
    }

    [Fact]
    public async Task Baseline_UploadsToTheRun_AndTagsAreWrittenOnTheModelVersion()
    {
        await using var server = await FakeMLflowServer.StartAsync();
        var runId = server.Register("fraud", "2", "challenger");
        using var http = new HttpClient();
        var client = new MLflowClient(http, new MLflowOptions { TrackingUri = server.Address });
        var matrix = ConfusionMatrixArtifact.Parse(System.Text.Encoding.UTF8.GetBytes(Matrix));

        await client.PutBaselineAsync(new MLflowModelReference("fraud", "challenger", null), matrix);
        await client.SetModelVersionTagAsync("fraud", "2", "confusionmatrix.gate", "pass");
        var back = await client.GetBaselineAsync(new MLflowModelReference("fraud", null, "2"));

        Assert.NotNull(server.Artifact(runId, ConfusionMatrixArtifact.FileName));
        Assert.Equal(matrix.Counts, back.Matrix.Counts);
        Assert.Equal("pass", server.Tags[("fraud", "2", "confusionmatrix.gate")]);
        var missing = await Assert.ThrowsAsync<MLflowException>(() => client.SetModelVersionTagAsync("fraud", "99", "k", "v"));
        Assert.True(missing.IsNotFound);
    }

    [Fact]
    public async Task UnreachableServerAndBadArtifacts_AreReported_NotThrownRaw()
    {
        var port = ConfusionMatrix.Tests.Shared.SiloProcess.FreePorts(1)[0];
        using var http = new HttpClient();
        var client = new MLflowClient(http, new MLflowOptions { TrackingUri = new Uri($"http://127.0.0.1:{port}") });

        var down = await Assert.ThrowsAsync<MLflowException>(() => client.GetModelVersionAsync("fraud", "1"));

        Assert.Null(down.StatusCode);
        Assert.Contains("unreachable", down.Message);
        Assert.Throws<FormatException>(() => ConfusionMatrixArtifact.Parse("""{"classes":["a","a"],"counts":[[1,0],[0,1]]}"""u8));
        Assert.Throws<FormatException>(() => ConfusionMatrixArtifact.Parse("""{"classes":["a","b"],"counts":[[1,-1],[0,1]]}"""u8));
        Assert.Throws<ArgumentException>(() => new MLflowClient(new HttpClient(), new MLflowOptions { TrackingUri = new Uri("ftp://x/") }));
        Assert.True(MLflowModelReference.TryParse("mlflow:fraud@champion", out var r, out _));
        Assert.Equal("champion", r!.Alias);
        Assert.True(MLflowModelReference.TryParse("mlflow:team/fraud/12", out var v, out _));
        Assert.Equal("team/fraud", v!.Model);
        Assert.Equal("12", v.Version);
        Assert.False(MLflowModelReference.TryParse("mlflow:fraud", out _, out var error));
        Assert.Contains("alias", error);
    }

    [Fact]
    public void ArtifactAddresses_FollowTheArtifactStore()
    {
        var proxied = new MLflowRunInfo("r1", "1", "mlflow-artifacts:/1/r1/artifacts");
        var withAuthority = new MLflowRunInfo("r1", "1", "mlflow-artifacts://mlflow:5000/1/r1/artifacts");
        var s3 = new MLflowRunInfo("r1", "1", "s3://bucket/1/r1/artifacts");

        Assert.Equal("api/2.0/mlflow-artifacts/artifacts/1/r1/artifacts/confusion_matrix.json", MLflowClient.ArtifactAddress(proxied, "confusion_matrix.json"));
        Assert.Equal("api/2.0/mlflow-artifacts/artifacts/1/r1/artifacts/confusion_matrix.json", MLflowClient.ArtifactAddress(withAuthority, "confusion_matrix.json"));
        Assert.Equal("get-artifact?path=confusion_matrix.json&run_uuid=r1", MLflowClient.ArtifactAddress(s3, "confusion_matrix.json"));
    }
}
