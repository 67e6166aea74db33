using System.Diagnostics;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Azure.Data.Tables;
using ConfusionMatrix.Durability.Tests;
using Xunit.Abstractions;

namespace ConfusionMatrix.Cluster.Tests;

/// <summary>
/// The chart's configuration contract, end to end without Kubernetes: render the chart, build the silo container's
/// environment from the rendered ConfigMap, Secret and Deployment (downward-API fields filled in as the kubelet would),
/// start a silo process with exactly that environment on loopback against Azurite, and use it. Only what cannot run
/// here is changed, and said so: Kubernetes clustering (it needs an API server) becomes AzureTable clustering on
/// 127.0.0.1, and the container ports become free loopback ports.
/// </summary>
public sealed class ChartEnvironmentTests(ITestOutputHelper output)
{
    [Fact]
    public async Task SiloWithTheRenderedEnvironment_JoinsStoresAndCounts()
    {
        await using var azurite = await Azurite.StartAsync();
        var manifests = await RenderAsync(
            "--set", "image.repository=registry.example.com/confusionmatrix-actors",
            "--set", $"storage.connectionString={azurite.ConnectionString}",
            "--set", "streams.provider=AzureQueue");
        var configMap = Single(manifests, "ConfigMap");
        var secret = Single(manifests, "Secret");
        var container = Single(manifests, "Deployment").GetProperty("spec").GetProperty("template").GetProperty("spec").GetProperty("containers")[0];

        var pod = new Dictionary<string, string> { ["metadata.name"] = "cm-confusionmatrix-actors-0", ["metadata.namespace"] = "ml", ["status.podIP"] = "127.0.0.1" };
        var environment = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var source in container.GetProperty("envFrom").EnumerateArray())
        {
            Assert.Equal(configMap.GetProperty("metadata").GetProperty("name").GetString(), source.GetProperty("configMapRef").GetProperty("name").GetString());
            foreach (var entry in configMap.GetProperty("data").EnumerateObject())
            {
                environment[entry.Name] = entry.Value.GetString()!;
            }
        }

        foreach (var variable in container.GetProperty("env").EnumerateArray())
        {
            var name = variable.GetProperty("name").GetString()!;
            if (variable.TryGetProperty("value", out var value))
            {
                environment[name] = value.GetString()!;
            }
            else if (variable.GetProperty("valueFrom").TryGetProperty("fieldRef", out var field))
            {
                environment[name] = pod[field.GetProperty("fieldPath").GetString()!];
            }
            else
            {
                var key = variable.GetProperty("valueFrom").GetProperty("secretKeyRef");
                Assert.Equal(secret.GetProperty("metadata").GetProperty("name").GetString(), key.GetProperty("name").GetString());
                environment[name] = Encoding.UTF8.GetString(Convert.FromBase64String(secret.GetProperty("data").GetProperty(key.GetProperty("key").GetString()!).GetString()!));
            }
        }

        Assert.Equal("Kubernetes", environment["ConfusionMatrix__Clustering__Provider"]);
        Assert.Equal(environment["ORLEANS_CLUSTER_ID"], environment["ConfusionMatrix__Clustering__ClusterId"]);
        Assert.Equal(environment["ORLEANS_SERVICE_ID"], environment["ConfusionMatrix__Clustering__ServiceId"]);
        Assert.Equal(azurite.ConnectionString, environment["ConfusionMatrix__Storage__ConnectionString"]);

        // What cannot run on this machine: no Kubernetes API server, no container network.
        var ports = SiloProcess.FreePorts(3);
        environment["ConfusionMatrix__Clustering__Provider"] = "AzureTable";
        environment["ConfusionMatrix__Clustering__AdvertisedAddress"] = environment["POD_IP"];
        environment["ASPNETCORE_URLS"] = $"http://127.0.0.1:{ports[0]}";
        environment["ConfusionMatrix__Clustering__SiloPort"] = ports[1].ToString();
        environment["ConfusionMatrix__Clustering__GatewayPort"] = ports[2].ToString();

        // The chart turns API keys on; the keys come from a Secret of the operator's (auth.existingSecret, envFrom).
        Assert.Equal("ApiKey", environment["ConfusionMatrix__Auth__Mode"]);
        const string apiKey = "chart-test-key-0123456789";
        environment["ConfusionMatrix__Auth__ApiKeys__chart__Key"] = apiKey;
        environment["ConfusionMatrix__Auth__ApiKeys__chart__Roles__0"] = "admin";
        output.WriteLine(string.Join("\n", environment.Where(e => !e.Key.Contains("ConnectionString", StringComparison.Ordinal)).Select(e => $"{e.Key}={e.Value}").Order()));

        using var silo = SiloProcess.Start([], environment);
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{ports[0]}/"), Timeout = TimeSpan.FromSeconds(30) };
        http.DefaultRequestHeaders.Add("X-API-Key", apiKey);
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(90);
        while (true)
        {
            Assert.False(silo.HasExited, silo.OutputTail());
            try
            {
                using var ready = await http.GetAsync("health/ready");
                if (ready.IsSuccessStatusCode)
                {
                    break;
                }
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }

            Assert.True(DateTime.UtcNow < until, $"not ready in 90 s\n{silo.OutputTail()}");
            await Task.Delay(200);
        }

        // It joined the membership table under the chart's cluster id, and counts through Azure Queue and Azure Table.
        var members = new TableServiceClient(azurite.ConnectionString).GetTableClient("OrleansSiloInstances")
            .Query<TableEntity>(e => e.PartitionKey == environment["ORLEANS_CLUSTER_ID"]).Where(e => e.GetString("Status") == "Active").ToList();
        Assert.Single(members);
        using (var registered = await http.PostAsJsonAsync("api/v1/models", new { model = "chart", classes = new[] { "a", "b" }, segmentDimensions = Array.Empty<string>() }))
        {
            Assert.True(registered.IsSuccessStatusCode, await registered.Content.ReadAsStringAsync());
        }

        using (var posted = await http.PostAsJsonAsync("api/v1/predictions", new[] { new { predictionId = "c1", model = "chart", version = "v1", predicted = "a", actual = "b" } }))
        {
            Assert.Equal(System.Net.HttpStatusCode.Accepted, posted.StatusCode);
        }

        while (JsonDocument.Parse(await http.GetStringAsync("api/v1/models/chart/versions/v1/segments/all/matrix")).RootElement.GetProperty("total").GetInt64() != 1)
        {
            Assert.True(DateTime.UtcNow < until + TimeSpan.FromSeconds(30), "the prediction was not counted");
            await Task.Delay(200);
        }
    }

    private static JsonElement Single(List<JsonElement> manifests, string kind) =>
        Assert.Single(manifests, m => m.GetProperty("kind").GetString() == kind);

    /// <summary>helm template, then the multi-document YAML as JSON (npm yaml, installed with the chart tools).</summary>
    private static async Task<List<JsonElement>> RenderAsync(params string[] arguments)
    {
        var root = SiloBinaries.RepositoryRoot;
        var helm = Environment.GetEnvironmentVariable("HELM") is { Length: > 0 } h ? h : Path.Combine(root, ".tools", "helm", "helm");
        var yaml = Path.Combine(root, ".tools", "kube-models", "node_modules", "yaml");
        Assert.True(File.Exists(helm) && Directory.Exists(yaml), $"{helm} or {yaml} is missing: run ./scripts/test.sh or scripts/helm-check.sh --install-only");
        var rendered = await RunAsync(helm, ["template", "cm", Path.Combine(root, "helm", "confusionmatrix-actors"), "--namespace", "ml", .. arguments], null);
        var script = $"const Y=require({JsonSerializer.Serialize(yaml)});let s='';process.stdin.on('data',d=>s+=d).on('end',()=>console.log(JSON.stringify(Y.parseAllDocuments(s).map(d=>d.toJS()).filter(d=>d))));";
        var json = await RunAsync("node", ["-e", script], rendered);
        return [.. JsonDocument.Parse(json).RootElement.EnumerateArray().Select(e => e.Clone())];
    }

    private static async Task<string> RunAsync(string file, string[] arguments, string? input)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = input is not null };
        foreach (var a in arguments)
        {
            start.ArgumentList.Add(a);
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (input is not null)
        {
            await process.StandardInput.WriteAsync(input);
            process.StandardInput.Close();
        }

        await process.WaitForExitAsync();
        Expect.Equal(0, process.ExitCode, $"{file} {string.Join(' ', arguments.Take(3))} failed: {await stderr}");
        return await stdout;
    }
}
