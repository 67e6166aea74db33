using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace ConfusionMatrix.Cli.Tests;

/// <summary>
/// An in-process HTTP server on loopback implementing the documented MLflow REST endpoints the client uses (no MLflow
/// server installs here): registered-models/alias, model-versions/get, runs/get, artifacts/list, model-versions/set-tag,
/// and artifact download/upload through the tracking server's proxy (mlflow-artifacts). Answers and errors follow
/// MLflow's JSON (snake_case, {"error_code","message"}).
/// </summary>
public sealed class FakeMLflowServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentDictionary<(string Model, string Version), string> _versions = new();
    private readonly ConcurrentDictionary<(string Model, string Alias), string> _aliases = new();
    private readonly ConcurrentDictionary<string, byte[]> _artifacts = new(StringComparer.Ordinal);

    private FakeMLflowServer(WebApplication app)
    {
        _app = app;
    }

    public Uri Address { get; private set; } = null!;

    public ConcurrentDictionary<(string Model, string Version, string Key), string> Tags { get; } = new();

    public ConcurrentQueue<string?> Authorizations { get; } = new();

    public static async Task<FakeMLflowServer> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var server = new FakeMLflowServer(app);
        server.Map(app);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        server.Address = new Uri(address);
        return server;
    }

    /// <summary>Registers version <paramref name="version"/> of <paramref name="model"/> with a new run, optionally with an alias and a matrix artifact.</summary>
    public string Register(string model, string version, string? alias = null, string? confusionMatrixJson = null)
    {
        var runId = Guid.NewGuid().ToString("N");
        _versions[(model, version)] = runId;
        if (alias is not null)
        {
            _aliases[(model, alias)] = version;
        }

        if (confusionMatrixJson is not null)
        {
            _artifacts[$"1/{runId}/artifacts/confusion_matrix.json"] = System.Text.Encoding.UTF8.GetBytes(confusionMatrixJson);
        }

        return runId;
    }

    public byte[]? Artifact(string runId, string path) => _artifacts.GetValueOrDefault($"1/{runId}/artifacts/{path}");

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    private static IResult Error(int status, string code, string message) =>
        Results.Json(new Dictionary<string, string> { ["error_code"] = code, ["message"] = message }, statusCode: status);

    private IResult Version(string model, string version, string runId) =>
        Results.Json(new { model_version = new { name = model, version, run_id = runId, source = $"mlflow-artifacts:/1/{runId}/artifacts/model", status = "READY" } });

    private void Map(WebApplication app)
    {
        app.Use(async (context, next) =>
        {
            Authorizations.Enqueue(context.Request.Headers.Authorization.FirstOrDefault());
            await next(context);
        });
        app.MapGet("/api/2.0/mlflow/registered-models/alias", (string? name, string? alias) =>
            name is null || alias is null ? Error(400, "INVALID_PARAMETER_VALUE", "name and alias are required")
            : _aliases.TryGetValue((name, alias), out var version) ? Version(name, version, _versions[(name, version)])
            : Error(404, "RESOURCE_DOES_NOT_EXIST", $"Registered model alias {alias} not found."));
        app.MapGet("/api/2.0/mlflow/model-versions/get", (string? name, string? version) =>
            name is null || version is null ? Error(400, "INVALID_PARAMETER_VALUE", "name and version are required")
            : _versions.TryGetValue((name, version), out var runId) ? Version(name, version, runId)
            : Error(404, "RESOURCE_DOES_NOT_EXIST", $"Model Version (name={name}, version={version}) not found"));
        app.MapGet("/api/2.0/mlflow/runs/get", (string? run_id) =>
            run_id is not null && _versions.Values.Contains(run_id)
                ? Results.Json(new { run = new { info = new { run_id, run_uuid = run_id, experiment_id = "1", artifact_uri = $"mlflow-artifacts:/1/{run_id}/artifacts", status = "FINISHED" }, data = new { } } })
                : Error(404, "RESOURCE_DOES_NOT_EXIST", $"Run '{run_id}' not found."));
        app.MapGet("/api/2.0/mlflow/artifacts/list", (string? run_id, string? path) =>
        {
            var prefix = $"1/{run_id}/artifacts/" + (string.IsNullOrEmpty(path) ? "" : path.TrimEnd('/') + "/");
            var files = _artifacts.Where(kv => kv.Key.StartsWith(prefix, StringComparison.Ordinal))
                .Select(kv => new { path = kv.Key[$"1/{run_id}/artifacts/".Length..], is_dir = false, file_size = (long)kv.Value.Length })
                .ToList();
            return Results.Json(new { root_uri = $"mlflow-artifacts:/1/{run_id}/artifacts", files });
        });
        app.MapGet("/api/2.0/mlflow-artifacts/artifacts/{**path}", (string path) =>
            _artifacts.TryGetValue(path, out var bytes) ? Results.Bytes(bytes, "application/octet-stream")
            : Error(404, "RESOURCE_DOES_NOT_EXIST", $"File {path} not found"));
        app.MapPut("/api/2.0/mlflow-artifacts/artifacts/{**path}", async (string path, HttpRequest request) =>
        {
            using var buffer = new MemoryStream();
            await request.Body.CopyToAsync(buffer);
            _artifacts[path] = buffer.ToArray();
            return Results.Json(new { });
        });
        app.MapPost("/api/2.0/mlflow/model-versions/set-tag", async (HttpRequest request) =>
        {
            using var doc = await JsonDocument.ParseAsync(request.Body);
            var r = doc.RootElement;
            string Get(string n) => r.TryGetProperty(n, out var v) ? v.GetString() ?? "" : "";
            if (!_versions.ContainsKey((Get("name"), Get("version"))))
            {
                return Error(404, "RESOURCE_DOES_NOT_EXIST", "Model version not found");
            }

            Tags[(Get("name"), Get("version"), Get("key"))] = Get("value");
            return Results.Json(new { });
        });
    }
}
