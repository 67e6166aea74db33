using System.CommandLine;
using System.Diagnostics;
using System.Net;
using System.Text.Json;
using ConfusionMatrix.MLflow;

namespace ConfusionMatrix.Cli;

/// <summary>The live gate's answer: <c>{"pass","reason","phase","inconclusive"?}</c>.</summary>
public sealed record GateAnswer(bool Pass, bool Inconclusive, string Reason, string? Phase, string? Version)
{
    /// <summary>Reads the gate's JSON; a missing <c>inconclusive</c> means false.</summary>
    public static GateAnswer Parse(string json)
    {
        using var doc = JsonDocument.Parse(json);
        var root = doc.RootElement;
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("pass", out var pass) || pass.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
        {
            throw new FormatException("the gate's answer has no boolean 'pass'");
        }

        static string? Text(JsonElement e, string name) => e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
        var inconclusive = root.TryGetProperty("inconclusive", out var inc) && inc.ValueKind == JsonValueKind.True;
        return new GateAnswer(pass.GetBoolean(), inconclusive, Text(root, "reason") ?? "", Text(root, "phase"), Text(root, "version"));
    }

    /// <summary>0 pass, 1 fail, 3 inconclusive (never a pass).</summary>
    public int ExitCode => Inconclusive ? ExitCodes.Inconclusive : Pass ? ExitCodes.Ok : ExitCodes.Failed;
}

/// <summary>
/// <c>cmx gate</c>: polls <c>GET /api/v1/models/{model}/rollout/gate</c> until the answer is conclusive or the wait
/// runs out; exits 0 pass, 1 fail, 3 inconclusive, 2 when the silo cannot be asked.
/// </summary>
internal static class GateCommand
{
    public static Command Create(CmxConsole console)
    {
        var url = new Option<string>("--url") { Description = "The silo's base URL, e.g. http://confusionmatrix:8080.", Required = true };
        var model = new Option<string>("--model") { Description = "Registered model name.", Required = true };
        var version = new Option<string?>("--version") { Description = "Version to gate (default: the current canary)." };
        var wait = new Option<string>("--wait") { Description = "How long to wait for a conclusive answer (30m, 90s, 0 = one look).", DefaultValueFactory = _ => "0s" };
        var interval = new Option<string>("--interval") { Description = "Time between looks while waiting.", DefaultValueFactory = _ => "10s" };
        var tagMLflow = new Option<string?>("--tag-mlflow") { Description = "Write the verdict as tags (confusionmatrix.gate, confusionmatrix.gate.reason) on this MLflow model version: mlflow:MODEL/VERSION or mlflow:MODEL@ALIAS." };
        var trackingUri = new Option<string?>("--tracking-uri") { Description = "MLflow tracking server for --tag-mlflow (default: MLFLOW_TRACKING_URI)." };

        var command = new Command("gate", "Wait on the live rollout gate: exit 0 pass, 1 fail, 3 inconclusive.")
        {
            url, model, version, wait, interval, tagMLflow, trackingUri,
        };
        command.SetAction(async (parse, ct) =>
        {
            var baseUrl = CmxApp.ParseUrl(parse.GetValue(url), "--url");
            var deadline = CmxApp.ParseDuration(parse.GetValue(wait)!, "--wait");
            var period = CmxApp.ParseDuration(parse.GetValue(interval)!, "--interval");
            if (period <= TimeSpan.Zero)
            {
                throw new CmxException("--interval must be positive");
            }

            var name = parse.GetValue(model)!;
            MLflowModelReference? tagTarget = null;
            if (parse.GetValue(tagMLflow) is { } tagText && !MLflowModelReference.TryParse(tagText, out tagTarget, out var tagError))
            {
                throw new CmxException($"--tag-mlflow: {tagError}");
            }

            var path = $"api/v1/models/{Uri.EscapeDataString(name)}/rollout/gate" + (parse.GetValue(version) is { } v ? $"?version={Uri.EscapeDataString(v)}" : "");
            using var http = CmxApp.SiloHttp(baseUrl, TimeSpan.FromSeconds(30));
            var clock = Stopwatch.StartNew();
            string? lastProblem = null;
            GateAnswer? last = null;
            while (true)
            {
                try
                {
                    using var response = await http.GetAsync(path, ct);
                    var body = await response.Content.ReadAsStringAsync(ct);
                    if (response.StatusCode is HttpStatusCode.OK or HttpStatusCode.PreconditionFailed)
                    {
                        last = GateAnswer.Parse(body);
                        if (!last.Inconclusive)
                        {
                            await console.Out.WriteLineAsync($"{(last.Pass ? "PASS" : "FAIL")}: {name} {last.Version ?? ""} ({last.Phase}): {last.Reason}");
                            await TagAsync(tagTarget, parse.GetValue(trackingUri), last.Pass ? "pass" : "fail", last.Reason, console, ct);
                            return last.ExitCode;
                        }

                        lastProblem = null;
                        await console.Error.WriteLineAsync($"inconclusive after {clock.Elapsed.TotalSeconds:0} s: {last.Reason}");
                    }
                    else if ((int)response.StatusCode is >= 400 and < 500)
                    {
                        throw new CmxException($"{new Uri(http.BaseAddress!, path)} answered {(int)response.StatusCode}: {body}");
                    }
                    else
                    {
                        lastProblem = $"{(int)response.StatusCode} {body}";
                    }
                }
                catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or JsonException or FormatException && !ct.IsCancellationRequested)
                {
                    // The silo may be restarting during a rollout: keep asking until the wait runs out.
                    lastProblem = ex.Message;
                    await console.Error.WriteLineAsync($"gate not answered: {ex.Message}");
                }

                if (clock.Elapsed + period > deadline)
                {
                    break;
                }

                await Task.Delay(period, ct);
            }

            if (last is not null && lastProblem is null)
            {
                await console.Out.WriteLineAsync($"INCONCLUSIVE: {name} {last.Version ?? ""} ({last.Phase}): {last.Reason}");
                await TagAsync(tagTarget, parse.GetValue(trackingUri), "inconclusive", last.Reason, console, ct);
                return ExitCodes.Inconclusive;
            }

            throw new CmxException($"the gate of {name} at {baseUrl} did not answer: {lastProblem}");
        });
        return command;
    }

    /// <summary>Records the live verdict on the MLflow model version, next to the baseline it was judged against.</summary>
    private static async Task TagAsync(MLflowModelReference? target, string? trackingUri, string verdict, string reason, CmxConsole console, CancellationToken ct)
    {
        if (target is null)
        {
            return;
        }

        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        var client = MatrixSource.CreateMLflowClient(http, trackingUri);
        try
        {
            var resolved = await client.ResolveAsync(target, ct);
            await client.SetModelVersionTagAsync(resolved.Name, resolved.Version, "confusionmatrix.gate", verdict, ct);
            await client.SetModelVersionTagAsync(resolved.Name, resolved.Version, "confusionmatrix.gate.reason", reason.Length <= 5000 ? reason : reason[..5000], ct);
            await console.Error.WriteLineAsync($"tagged {resolved.Name} version {resolved.Version} in MLflow: confusionmatrix.gate={verdict}");
        }
        catch (MLflowException ex)
        {
            // The gate's answer stands; a failed tag is reported, not turned into a different exit code.
            await console.Error.WriteLineAsync($"cmx: could not tag {target} in MLflow: {ex.Message}");
        }
    }
}
