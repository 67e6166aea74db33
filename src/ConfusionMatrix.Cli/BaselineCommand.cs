using System.CommandLine;
using System.Net.Http.Json;
using ConfusionMatrix.Abstractions;
using ConfusionMatrix.Api.Contracts;
using ConfusionMatrix.MLflow;

namespace ConfusionMatrix.Cli;

/// <summary>
/// <c>cmx baseline push|pull</c>: moves a holdout matrix between a <c>confusion_matrix.json</c> file, MLflow
/// (<c>mlflow:MODEL@ALIAS</c> / <c>mlflow:MODEL/VERSION</c>) and a running silo's <c>PUT …/baseline</c>.
/// </summary>
internal static class BaselineCommand
{
    public static Command Create(CmxConsole console)
    {
        var tracking = new Option<string?>("--tracking-uri") { Description = "MLflow tracking server (default: MLFLOW_TRACKING_URI; token from MLFLOW_TRACKING_TOKEN)." };
        var model = new Option<string?>("--model") { Description = "Silo model name (when the target or source is a silo URL)." };
        var version = new Option<string?>("--version") { Description = "Silo model version." };
        var segment = new Option<string>("--segment") { Description = "Silo segment.", DefaultValueFactory = _ => Segments.All };

        var pushSource = new Argument<string>("SOURCE") { Description = "A matrix file (confusion_matrix.json, cmx evaluate output), a prediction file, or mlflow:MODEL@ALIAS." };
        var to = new Option<string>("--to") { Description = "mlflow:MODEL@ALIAS|MODEL/VERSION (uploads confusion_matrix.json to that version's run) or the silo's base URL.", Required = true };
        var push = new Command("push", "Send a baseline to MLflow or to a running silo.") { pushSource, to, tracking, model, version, segment };
        push.SetAction(async (parse, ct) =>
        {
            var matrix = await MatrixSource.LoadAsync(parse.GetValue(pushSource)!, parse.GetValue(segment)!, parse.GetValue(tracking), ct);
            var target = parse.GetValue(to)!;
            if (target.StartsWith(MLflowModelReference.Scheme, StringComparison.OrdinalIgnoreCase))
            {
                if (!MLflowModelReference.TryParse(target, out var reference, out var error))
                {
                    throw new CmxException(error!);
                }

                using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(60) };
                var client = MatrixSource.CreateMLflowClient(http, parse.GetValue(tracking));
                try
                {
                    var run = await client.PutBaselineAsync(reference!, matrix.ToArtifact(), ct);
                    await console.Out.WriteLineAsync($"{matrix.Source} -> {reference} run {run.RunId} artifact {ConfusionMatrixArtifact.FileName} ({matrix.Counts.Total} predictions)");
                }
                catch (MLflowException ex)
                {
                    throw new CmxException(ex.Message);
                }

                return ExitCodes.Ok;
            }

            var (path, siloHttp) = SiloBaseline(target, parse.GetValue(model), parse.GetValue(version), parse.GetValue(segment)!);
            using (siloHttp)
            {
                // Align with the model's registered class order before sending raw rows.
                var definition = await GetJsonAsync<ModelCatalogResponse>(siloHttp, $"api/v1/models/{Uri.EscapeDataString(parse.GetValue(model)!)}", ct);
                var aligned = matrix.Reorder(definition.Definition.Classes, $"model {definition.Definition.Model}");
                using var response = await Send(() => siloHttp.PutAsJsonAsync(path, new { counts = aligned.Counts.ToRows() }, ct));
                var body = await response.Content.ReadAsStringAsync(ct);
                if (!response.IsSuccessStatusCode)
                {
                    throw new CmxException($"the silo refused the baseline: {(int)response.StatusCode} {body}");
                }

                await console.Out.WriteLineAsync($"{matrix.Source} -> {new Uri(siloHttp.BaseAddress!, path)} ({aligned.Counts.Total} predictions)");
            }

            return ExitCodes.Ok;
        });

        var pullSource = new Argument<string>("SOURCE") { Description = "mlflow:MODEL@ALIAS|MODEL/VERSION, or the silo's base URL (with --model, --version)." };
        var output = new Option<string>("--out", "-o") { Description = "File to write confusion_matrix.json to.", Required = true };
        var pull = new Command("pull", "Fetch a baseline from MLflow or a running silo into a file.") { pullSource, output, tracking, model, version, segment };
        pull.SetAction(async (parse, ct) =>
        {
            var source = parse.GetValue(pullSource)!;
            NamedMatrix matrix;
            if (source.StartsWith(MLflowModelReference.Scheme, StringComparison.OrdinalIgnoreCase))
            {
                matrix = await MatrixSource.LoadAsync(source, parse.GetValue(segment)!, parse.GetValue(tracking), ct);
            }
            else
            {
                var (path, siloHttp) = SiloBaseline(source, parse.GetValue(model), parse.GetValue(version), parse.GetValue(segment)!);
                using (siloHttp)
                {
                    using var response = await Send(() => siloHttp.GetAsync(path, ct));
                    var body = await response.Content.ReadAsStringAsync(ct);
                    if (!response.IsSuccessStatusCode)
                    {
                        throw new CmxException($"{new Uri(siloHttp.BaseAddress!, path)} answered {(int)response.StatusCode}: {body}");
                    }

                    matrix = MatrixSource.FromJson(body, parse.GetValue(segment)!, new Uri(siloHttp.BaseAddress!, path).ToString());
                }
            }

            var target = parse.GetValue(output)!;
            await File.WriteAllBytesAsync(target, matrix.ToArtifact().ToUtf8Json(), ct);
            await console.Out.WriteLineAsync($"{matrix.Source} -> {target} ({matrix.Counts.Total} predictions)");
            return ExitCodes.Ok;
        });

        return new Command("baseline", "Move a baseline matrix between a file, MLflow and a running silo.") { push, pull };
    }

    private static (string Path, HttpClient Http) SiloBaseline(string url, string? model, string? version, string segment)
    {
        var baseUrl = CmxApp.ParseUrl(url, "the silo URL");
        if (string.IsNullOrWhiteSpace(model) || string.IsNullOrWhiteSpace(version))
        {
            throw new CmxException("a silo baseline needs --model and --version");
        }

        var path = $"api/v1/models/{Uri.EscapeDataString(model)}/versions/{Uri.EscapeDataString(version)}/segments/{Uri.EscapeDataString(segment)}/baseline";
        return (path, CmxApp.SiloHttp(baseUrl));
    }

    private static async Task<T> GetJsonAsync<T>(HttpClient http, string path, CancellationToken ct)
    {
        using var response = await Send(() => http.GetAsync(path, ct));
        if (!response.IsSuccessStatusCode)
        {
            throw new CmxException($"{new Uri(http.BaseAddress!, path)} answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync(ct)}");
        }

        return await response.Content.ReadFromJsonAsync<T>(ct) ?? throw new CmxException($"{path} answered an empty body");
    }

    private static async Task<HttpResponseMessage> Send(Func<Task<HttpResponseMessage>> call)
    {
        try
        {
            return await call();
        }
        catch (HttpRequestException ex)
        {
            throw new CmxException($"the silo is unreachable: {ex.Message}");
        }
    }
}
