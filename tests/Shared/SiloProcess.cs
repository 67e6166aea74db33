using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace ConfusionMatrix.Tests.Shared;

/// <summary>
/// A ConfusionMatrix.Silo process started with <c>dotnet ConfusionMatrix.Silo.dll</c> (or another host of the same silo,
/// such as the demo), its output captured.
/// </summary>
public sealed class SiloProcess : IDisposable
{
    private const int MaxBufferedChars = 64 * 1024;

    private readonly Process _process;
    private readonly StringBuilder _stdout = new();
    private readonly StringBuilder _stderr = new();
    private readonly Lock _gate = new();
    private readonly TaskCompletionSource _stdoutClosed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _stderrClosed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private SiloProcess(Process process)
    {
        _process = process;
    }

    public int ProcessId => _process.Id;

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    public string StandardOutput
    {
        get
        {
            lock (_gate)
            {
                return _stdout.ToString();
            }
        }
    }

    public string StandardError
    {
        get
        {
            lock (_gate)
            {
                return _stderr.ToString();
            }
        }
    }

    /// <summary>The last part of both streams, for failure messages.</summary>
    public string OutputTail(int chars = 4000)
    {
        string Tail(string s) => s.Length <= chars ? s : "…" + s[^chars..];
        return $"--- silo pid {_process.Id} stdout (tail) ---\n{Tail(StandardOutput)}\n--- stderr (tail) ---\n{Tail(StandardError)}";
    }

    public static SiloProcess Start(IEnumerable<string> arguments, IReadOnlyDictionary<string, string>? environment = null, string? dll = null)
    {
        dll ??= SiloBinaries.SiloDll;
        var start = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = Path.GetDirectoryName(dll)!,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = false,
            UseShellExecute = false,
            CreateNoWindow = true,
        };
        start.ArgumentList.Add(dll);
        foreach (var a in arguments)
        {
            start.ArgumentList.Add(a);
        }

        // The test host's own environment must not leak into the silo (e.g. a developer's ASPNETCORE_URLS).
        start.Environment.Remove("ASPNETCORE_URLS");
        start.Environment.Remove("DOTNET_URLS");
        start.Environment["DOTNET_ENVIRONMENT"] = "Production";
        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }

        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        var silo = new SiloProcess(process);
        process.OutputDataReceived += (_, e) => silo.Append(silo._stdout, e.Data, silo._stdoutClosed);
        process.ErrorDataReceived += (_, e) => silo.Append(silo._stderr, e.Data, silo._stderrClosed);
        if (!process.Start())
        {
            throw new InvalidOperationException($"Could not start dotnet {dll}.");
        }

        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return silo;
    }

    /// <summary>Waits for the process to exit; false when the deadline passed first.</summary>
    public async Task<bool> WaitForExitAsync(TimeSpan deadline)
    {
        using var cts = new CancellationTokenSource(deadline);
        try
        {
            await _process.WaitForExitAsync(cts.Token);

            // WaitForExitAsync also waits for the redirected streams to reach end of file.
            await Task.WhenAll(_stdoutClosed.Task, _stderrClosed.Task).WaitAsync(TimeSpan.FromSeconds(5));
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>Kills the process tree by this process's id and waits for it to be gone.</summary>
    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }

            _process.WaitForExit(30_000);
        }
        catch (InvalidOperationException)
        {
            // The process was never started or has already been reaped.
        }
        finally
        {
            _process.Dispose();
        }
    }

    /// <summary>Distinct free loopback TCP ports, found by binding port 0. All listeners stay open until all are chosen.</summary>
    public static int[] FreePorts(int count)
    {
        var listeners = new List<TcpListener>();
        try
        {
            for (var i = 0; i < count; i++)
            {
                var listener = new TcpListener(IPAddress.Loopback, 0);
                listener.Start();
                listeners.Add(listener);
            }

            return [.. listeners.Select(l => ((IPEndPoint)l.LocalEndpoint).Port)];
        }
        finally
        {
            foreach (var l in listeners)
            {
                l.Stop();
            }
        }
    }

    private void Append(StringBuilder buffer, string? line, TaskCompletionSource closed)
    {
        if (line is null)
        {
            closed.TrySetResult();
            return;
        }

        lock (_gate)
        {
            buffer.AppendLine(line);
            if (buffer.Length > MaxBufferedChars)
            {
                buffer.Remove(0, buffer.Length - (MaxBufferedChars / 2));
            }
        }
    }
}

/// <summary>Finds the silo's (and the demo host's) build output and the repository's shared reference data.</summary>
public static class SiloBinaries
{
    private static readonly Lazy<string> Silo = new(() => FindDll("ConfusionMatrix.Silo", "src"));
    private static readonly Lazy<string> Demo = new(() => FindDll("ConfusionMatrix.Demo", "samples"));

    public static string SiloDll => Silo.Value;

    /// <summary>samples/ConfusionMatrix.Demo: the same silo with the demo stories (<c>--demo</c>, <c>--demo-late-labels</c>).</summary>
    public static string DemoDll => Demo.Value;

    /// <summary>The directory holding ConfusionMatrix.Actors.sln, found by walking up from the test binaries.</summary>
    public static string RepositoryRoot
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "ConfusionMatrix.Actors.sln")))
                {
                    return dir.FullName;
                }
            }

            throw new InvalidOperationException($"No ConfusionMatrix.Actors.sln above {AppContext.BaseDirectory}.");
        }
    }

    private static string FindDll(string assembly, string folder)
    {
        // A referenced executable project is copied next to the tests with its runtimeconfig and deps files.
        var local = Path.Combine(AppContext.BaseDirectory, assembly + ".dll");
        if (IsRunnable(local))
        {
            return local;
        }

        // Otherwise use the project's own build output, for the same configuration as the tests.
        var tfmDir = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        var configuration = tfmDir.Parent?.Name ?? "Debug";
        var candidate = Path.Combine(RepositoryRoot, folder, assembly, "bin", configuration, tfmDir.Name, assembly + ".dll");
        if (IsRunnable(candidate))
        {
            return candidate;
        }

        throw new InvalidOperationException($"Neither {local} nor {candidate} is a runnable {assembly}.dll (with runtimeconfig.json and deps.json).");
    }

    private static bool IsRunnable(string dll) =>
        File.Exists(dll)
        && File.Exists(Path.ChangeExtension(dll, ".runtimeconfig.json"))
        && File.Exists(Path.ChangeExtension(dll, ".deps.json"));
}
