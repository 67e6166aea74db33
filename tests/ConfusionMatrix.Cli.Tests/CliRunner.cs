using System.Diagnostics;

namespace ConfusionMatrix.Cli.Tests;

public sealed record CliResult(int ExitCode, string Out, string Error)
{
    public override string ToString() => $"exit {ExitCode}\n--- stdout ---\n{Out}\n--- stderr ---\n{Error}";
}

/// <summary>Runs cmx in this process (most tests) or as its own process (when it must be killed).</summary>
public static class CliRunner
{
    public static async Task<CliResult> RunAsync(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var code = await CmxApp.RunAsync(args, output, error);
        return new CliResult(code, output.ToString(), error.ToString());
    }

    /// <summary>
    /// Starts <c>dotnet cmx.dll ARGS</c> from the tool's own build output: the copy next to the tests resolves its
    /// dependencies against the test's ASP.NET Core framework, which the tool does not run on.
    /// </summary>
    public static Process Start(params string[] args) => Start(new Dictionary<string, string>(), args);

    /// <summary>As <see cref="Start(string[])"/>, with extra environment variables.</summary>
    public static Process Start(IReadOnlyDictionary<string, string> environment, params string[] args)
    {
        var tfm = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        var dll = Path.Combine(SiloBinaries.RepositoryRoot, "src", "ConfusionMatrix.Cli", "bin", tfm.Parent!.Name, tfm.Name, "cmx.dll");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(dll);
        foreach (var a in args)
        {
            start.ArgumentList.Add(a);
        }

        start.Environment.Remove("CMX_API_KEY");
        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }

        return Process.Start(start) ?? throw new InvalidOperationException($"could not start dotnet {dll}");
    }

    public static string TempDirectory()
    {
        var dir = Path.Combine(Path.GetTempPath(), "cmx-tests-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(dir);
        return dir;
    }
}
