using System.Diagnostics;

namespace ConfusionMatrix.Silo.Tests;

/// <summary>One real silo process on loopback for every HTTP test: startup costs seconds, so it is shared.</summary>
public sealed class SiloProcessFixture : IAsyncLifetime
{
    /// <summary>The fixture silo's request limit: small, so that a 413 test does not have to send 64 MiB.</summary>
    public const long MaxRequestBytes = 4L * 1024 * 1024;

    private static readonly TimeSpan StartupDeadline = TimeSpan.FromSeconds(60);

    private SiloProcess? _silo;

    public Uri BaseAddress { get; private set; } = new("http://127.0.0.1/");

    public SiloApi Api { get; private set; } = null!;

    public SiloProcess Silo => _silo ?? throw new InvalidOperationException("The silo has not been started.");

    public async Task InitializeAsync()
    {
        var ports = SiloProcess.FreePorts(3);
        BaseAddress = new Uri($"http://127.0.0.1:{ports[0]}/");
        _silo = SiloProcess.Start(
        [
            "--urls", $"http://127.0.0.1:{ports[0]}",
            $"--ConfusionMatrix:Clustering:SiloPort={ports[1]}",
            $"--ConfusionMatrix:Clustering:GatewayPort={ports[2]}",
            $"--ConfusionMatrix:Api:MaxRequestBytes={MaxRequestBytes}",

            // Labels: fewer shards than production, and a fast sweep so that orphaned labels are counted within a test.
            "--ConfusionMatrix:Labels:ShardCount=8",
            "--ConfusionMatrix:Labels:SweepInterval=00:00:01",
            // Webhook tests post to receivers on this machine, which webhooks may reach only when allowed by name.
            "--ConfusionMatrix:Webhooks:AllowedHosts:0=127.0.0.1",
            "--Logging:LogLevel:Default=Warning",
            "--Logging:LogLevel:Microsoft.Hosting.Lifetime=Information",
        ]);
        Api = new SiloApi(BaseAddress, () => _silo.OutputTail());

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
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                using var response = await Api.Http.GetAsync("health", cts.Token);
                if (response.IsSuccessStatusCode)
                {
                    return;
                }

                last = $"/health answered {(int)response.StatusCode}";
            }
            catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException)
            {
                last = ex.Message;
            }

            await Task.Delay(250);
        }

        throw new TimeoutException($"The silo did not become healthy within {StartupDeadline.TotalSeconds} s (last: {last}).\n{_silo.OutputTail()}");
    }

    public Task DisposeAsync()
    {
        Api?.Dispose();
        _silo?.Dispose();
        return Task.CompletedTask;
    }
}

[CollectionDefinition(Name)]
public sealed class SiloCollection : ICollectionFixture<SiloProcessFixture>
{
    public const string Name = "silo process";
}
