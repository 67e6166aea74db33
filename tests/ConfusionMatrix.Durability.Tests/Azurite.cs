using System.Diagnostics;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace ConfusionMatrix.Durability.Tests;

/// <summary>
/// An Azurite process on loopback with its own ports and a throwaway data directory, started by the tests and
/// stopped by its process id. <see cref="Pause"/> / <see cref="Resume"/> freeze it (SIGSTOP / SIGCONT): storage becomes
/// unreachable without losing what it already acknowledged, which is the outage the fault tests need.
/// </summary>
public sealed class Azurite : IAsyncDisposable
{
    private const string AccountKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
    private const int SigStop = 19;
    private const int SigCont = 18;

    private readonly string _dataDirectory = Directory.CreateTempSubdirectory("azurite-").FullName;
    private readonly int[] _ports = SiloProcess.FreePorts(3);
    private Process? _process;

    public int ProcessId => _process?.Id ?? 0;

    public string ConnectionString =>
        $"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={AccountKey};" +
        $"BlobEndpoint=http://127.0.0.1:{_ports[0]}/devstoreaccount1;QueueEndpoint=http://127.0.0.1:{_ports[1]}/devstoreaccount1;" +
        $"TableEndpoint=http://127.0.0.1:{_ports[2]}/devstoreaccount1;";

    /// <summary>azurite.js as installed by scripts/test.sh (npm, into .tools/azurite), or AZURITE_JS.</summary>
    public static string Script
    {
        get
        {
            var fromEnvironment = Environment.GetEnvironmentVariable("AZURITE_JS");
            var path = !string.IsNullOrEmpty(fromEnvironment)
                ? fromEnvironment
                : Path.Combine(SiloBinaries.RepositoryRoot, ".tools", "azurite", "node_modules", "azurite", "dist", "src", "azurite.js");
            return File.Exists(path)
                ? path
                : throw new FileNotFoundException($"Azurite is not installed at {path}: run ./scripts/test.sh (it runs `npm install --prefix .tools/azurite azurite@3.37.0`).", path);
        }
    }

    public static async Task<Azurite> StartAsync()
    {
        var azurite = new Azurite();
        await azurite.StartProcessAsync();
        return azurite;
    }

    public void Pause() => Signal(SigStop);

    public void Resume() => Signal(SigCont);

    public async ValueTask DisposeAsync()
    {
        if (_process is { HasExited: false } process)
        {
            Signal(SigCont);
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }

        _process?.Dispose();
        try
        {
            Directory.Delete(_dataDirectory, recursive: true);
        }
        catch (IOException)
        {
            // A file still held open by the dying process; the temp directory is reclaimed by the OS.
        }
    }

    private async Task StartProcessAsync()
    {
        var info = new ProcessStartInfo("node")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in new[]
        {
            Script, "--silent", "--skipApiVersionCheck", "--location", _dataDirectory,
            "--blobHost", "127.0.0.1", "--blobPort", _ports[0].ToString(),
            "--queueHost", "127.0.0.1", "--queuePort", _ports[1].ToString(),
            "--tableHost", "127.0.0.1", "--tablePort", _ports[2].ToString(),
        })
        {
            info.ArgumentList.Add(argument);
        }

        _process = Process.Start(info) ?? throw new InvalidOperationException("node did not start");
        _process.OutputDataReceived += (_, _) => { };
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();

        var until = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        foreach (var port in _ports)
        {
            while (!await AcceptsAsync(port))
            {
                if (_process.HasExited || DateTime.UtcNow > until)
                {
                    throw new InvalidOperationException($"Azurite did not listen on 127.0.0.1:{port} (exited: {_process.HasExited}).");
                }

                await Task.Delay(100);
            }
        }
    }

    private static async Task<bool> AcceptsAsync(int port)
    {
        try
        {
            using var client = new TcpClient();
            await client.ConnectAsync("127.0.0.1", port);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private void Signal(int signal)
    {
        if (_process is { HasExited: false } process && kill(process.Id, signal) != 0)
        {
            throw new InvalidOperationException($"kill({process.Id}, {signal}) failed with errno {Marshal.GetLastPInvokeError()}");
        }
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int sig);
}
