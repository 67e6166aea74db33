using System.Diagnostics;
using System.Net.Http.Json;

namespace ConfusionMatrix.Cli.Tests;

/// <summary>One real silo process on loopback (memory storage and streams), configured with an in-process MLflow server.</summary>
public sealed class LiveSiloFixture : IAsyncLifetime
{
    private static readonly TimeSpan StartupDeadline = TimeSpan.FromSeconds(60);

    private SiloProcess? _silo;

    public Uri BaseAddress { get; private set; } = null!;

    public int GatewayPort { get; private set; }

    public FakeMLflowServer MLflow { get; private set; } = null!;

    public HttpClient Http { get; private set; } = null!;

    public SiloProcess Silo => _silo!;

    public async Task InitializeAsync()
    {
        MLflow = await FakeMLflowServer.StartAsync();
        var ports = SiloProcess.FreePorts(3);
        BaseAddress = new Uri($"http://127.0.0.1:{ports[0]}/");
        GatewayPort = ports[2];
        _silo = SiloProcess.Start(
        [
            "--urls", $"http://127.0.0.1:{ports[0]}",
            $"--ConfusionMatrix:Clustering:SiloPort={ports[1]}",
            $"--ConfusionMatrix:Clustering:GatewayPort={ports[2]}",
            $"--ConfusionMatrix:MLflow:TrackingUri={MLflow.Address}",
            "--Logging:LogLevel:Default=Warning",
            "--Logging:LogLevel:Microsoft.Hosting.Lifetime=Information",
        ]);
        Http = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
        var clock = Stopwatch.StartNew();
        var last = "no answer yet";
        while (clock.Elapsed < StartupDeadline)
        {
            if (_silo.HasExited)
            {
                throw new InvalidOperationException($"The silo exited with code {_silo.ExitCode} during startup.\n{_silo.OutputTail()}");
            }

            try
            {
                using var response = await Http.GetAsync("health");
                if (response.IsSuccessStatusCode)
                {
                    return;
                }

                last = $"/health answered {(int)response.StatusCode}";
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
            {
                last = ex.Message;
            }

            await Task.Delay(250);
        }

        throw new TimeoutException($"The silo did not become healthy within {StartupDeadline.TotalSeconds} s (last: {last}).\n{_silo.OutputTail()}");
    }

    public async Task RegisterAsync(string model, string[] classes, string[]? dimensions = null)
    {
        using var response = await Http.PostAsJsonAsync("api/v1/models", new { model, classes, positiveClass = classes[^1], segmentDimensions = dimensions ?? [] });
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
    }

    public async Task<string> PostAsync(string path, object body)
    {
        using var response = await Http.PostAsJsonAsync(path, body);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"{path}: {(int)response.StatusCode} {text}");
        return text;
    }

    public async Task DisposeAsync()
    {
        Http?.Dispose();
        _silo?.Dispose();
        if (MLflow is not null)
        {
            await MLflow.DisposeAsync();
        }
    }
}

[CollectionDefinition(Name)]
public sealed class LiveSiloCollection : ICollectionFixture<LiveSiloFixture>
{
    public const string Name = "cmx against a silo process";
}
