using System.Runtime.InteropServices;
using Azure.Data.Tables;
using ConfusionMatrix.Durability.Tests;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Orleans.Configuration;

namespace ConfusionMatrix.Cluster.Tests;

/// <summary>
/// Silo processes on loopback forming one Orleans cluster through Azure Table membership on Azurite, each with its own
/// silo, gateway and HTTP port, grain state in Azure Table and the prediction log on Azure Queue. Started and stopped by
/// process id: SIGKILL for a crash, SIGTERM for a graceful stop.
/// </summary>
public sealed class ProcessCluster : IAsyncDisposable
{
    private const int SigTerm = 15;

    private readonly Azurite _azurite;
    private readonly int[] _ports;
    private readonly SiloProcess?[] _silos;
    private readonly string[] _extraArguments;
    private readonly List<string> _earlierOutput = [];

    public ProcessCluster(Azurite azurite, int size, params string[] extraArguments)
    {
        _azurite = azurite;
        _ports = SiloProcess.FreePorts(size * 3);
        _silos = new SiloProcess?[size];
        _extraArguments = extraArguments;
        ClusterId = $"c{Guid.NewGuid():N}"[..14];
        Http = [.. Enumerable.Range(0, size).Select(i => new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{HttpPort(i)}/"), Timeout = TimeSpan.FromSeconds(60) })];
    }

    public string ClusterId { get; }

    public int Size => _silos.Length;

    /// <summary>One HTTP client per silo, for its own endpoint.</summary>
    public HttpClient[] Http { get; }

    public int HttpPort(int i) => _ports[i * 3];

    public int SiloPort(int i) => _ports[(i * 3) + 1];

    public int GatewayPort(int i) => _ports[(i * 3) + 2];

    public SiloProcess? Silo(int i) => _silos[i];

    public void Start(int i)
    {
        if (_silos[i] is { HasExited: false })
        {
            throw new InvalidOperationException($"silo {i} is already running");
        }

        Retire(i);
        _silos[i] = SiloProcess.Start(
        [
            "--urls", $"http://127.0.0.1:{HttpPort(i)}",
            "--ConfusionMatrix:Clustering:Provider=AzureTable",
            "--ConfusionMatrix:Clustering:AdvertisedAddress=127.0.0.1",
            $"--ConfusionMatrix:Clustering:SiloPort={SiloPort(i)}",
            $"--ConfusionMatrix:Clustering:GatewayPort={GatewayPort(i)}",
            $"--ConfusionMatrix:Clustering:ClusterId={ClusterId}",
            $"--ConfusionMatrix:Clustering:ServiceId={ClusterId}",
            "--ConfusionMatrix:Storage:Provider=AzureTable",
            $"--ConfusionMatrix:Storage:ConnectionString={_azurite.ConnectionString}",
            "--ConfusionMatrix:Streams:Provider=AzureQueue",
            .. _extraArguments,
        ]);
    }

    /// <summary>Waits until the silo answers /health/ready.</summary>
    public async Task WaitReadyAsync(int i, TimeSpan deadline)
    {
        var until = DateTime.UtcNow + deadline;
        while (true)
        {
            var silo = _silos[i] ?? throw new InvalidOperationException($"silo {i} was not started");
            Assert.False(silo.HasExited, $"silo {i} exited with {(silo.HasExited ? silo.ExitCode : 0)}\n{silo.OutputTail()}");
            try
            {
                using var response = await Http[i].GetAsync("health/ready").WaitAsync(TimeSpan.FromSeconds(5));
                if (response.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or TimeoutException or TaskCanceledException)
            {
                // Not listening or not joined yet.
            }

            Assert.True(DateTime.UtcNow < until, $"silo {i} not ready within {deadline.TotalSeconds} s\n{silo.OutputTail()}");
            await Task.Delay(200);
        }
    }

    /// <summary>SIGKILL: the process dies at once, with whatever it had in flight.</summary>
    public void Kill(int i)
    {
        Retire(i);
    }

    /// <summary>SIGTERM and wait for the silo to hand over its grains and exit.</summary>
    public async Task StopAsync(int i, TimeSpan deadline)
    {
        var silo = _silos[i] ?? throw new InvalidOperationException($"silo {i} was not started");
        if (kill(silo.ProcessId, SigTerm) != 0)
        {
            throw new InvalidOperationException($"kill({silo.ProcessId}, SIGTERM) failed with errno {Marshal.GetLastPInvokeError()}");
        }

        Assert.True(await silo.WaitForExitAsync(deadline), $"silo {i} did not stop within {deadline.TotalSeconds} s\n{silo.OutputTail()}");
        Expect.Equal(0, silo.ExitCode, $"exit code of silo {i}\n{silo.OutputTail()}");
    }

    /// <summary>An Orleans client of this cluster, through the gateways listed in the membership table.</summary>
    public async Task<IHost> ConnectClientAsync()
    {
        var host = new HostBuilder()
            .UseOrleansClient(client => client
                .UseAzureStorageClustering(o => o.TableServiceClient = new TableServiceClient(_azurite.ConnectionString))
                .Configure<ClusterOptions>(o =>
                {
                    o.ClusterId = ClusterId;
                    o.ServiceId = ClusterId;
                }))
            .Build();
        await host.StartAsync();
        return host;
    }

    /// <summary>The membership table's status of the silo on <paramref name="siloPort"/> with the newest generation.</summary>
    public async Task<string?> MembershipStatusAsync(int siloPort)
    {
        var table = new TableServiceClient(_azurite.ConnectionString).GetTableClient("OrleansSiloInstances");
        string? status = null;
        var generation = int.MinValue;
        await foreach (var row in table.QueryAsync<TableEntity>(e => e.PartitionKey == ClusterId))
        {
            if (row.TryGetValue("Port", out var port) && Convert.ToInt32(port) == siloPort
                && row.TryGetValue("Generation", out var g) && Convert.ToInt32(g) > generation)
            {
                generation = Convert.ToInt32(g);
                status = row.GetString("Status");
            }
        }

        return status;
    }

    /// <summary>Lines of every silo process so far, the stopped ones included, that contain <paramref name="text"/>.</summary>
    public IEnumerable<string> OutputLinesContaining(string text) =>
        _earlierOutput.Concat(_silos.OfType<SiloProcess>().Select(s => s.StandardOutput + s.StandardError))
            .SelectMany(o => o.Split('\n'))
            .Where(line => line.Contains(text, StringComparison.Ordinal));

    public string OutputTails() =>
        string.Join("\n", _silos.Select((s, i) => s is null ? $"silo {i}: not running" : $"silo {i}:\n{s.OutputTail(2000)}"));

    public ValueTask DisposeAsync()
    {
        foreach (var silo in _silos)
        {
            silo?.Dispose();
        }

        foreach (var http in Http)
        {
            http.Dispose();
        }

        return ValueTask.CompletedTask;
    }

    private void Retire(int i)
    {
        if (_silos[i] is { } silo)
        {
            silo.Dispose();
            _earlierOutput.Add(silo.StandardOutput + silo.StandardError);
            _silos[i] = null;
        }
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int sig);
}
