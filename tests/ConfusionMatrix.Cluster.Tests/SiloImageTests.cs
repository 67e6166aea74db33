using System.Diagnostics;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using Xunit.Abstractions;

namespace ConfusionMatrix.Cluster.Tests;

/// <summary>
/// The root Dockerfile: every project the silo references is copied before the restore, and the build stage's own
/// COPY and RUN steps, replayed in order in an empty directory (no Docker engine needed), restore and publish the silo.
/// </summary>
public sealed partial class SiloImageTests(ITestOutputHelper output)
{
    private const string SiloProject = "src/ConfusionMatrix.Silo/ConfusionMatrix.Silo.csproj";

    private static string Root => SiloBinaries.RepositoryRoot;

    [Fact]
    public void EveryProjectTheSiloReferences_IsCopiedBeforeTheRestore()
    {
        var projects = ReferencedProjects(SiloProject);
        Assert.Contains("src/ConfusionMatrix.Streaming.EventHubs/ConfusionMatrix.Streaming.EventHubs.csproj", projects);
        Assert.Empty(MissingBeforeRestore(File.ReadAllText(Path.Combine(Root, "Dockerfile")), projects));
    }

    [Fact]
    public void Check_NoticesAProjectCopiedAfterTheRestore()
    {
        var projects = ReferencedProjects(SiloProject);
        var dockerfile = string.Join('\n', File.ReadAllLines(Path.Combine(Root, "Dockerfile")).Where(l => !l.Contains("ConfusionMatrix.Streaming.EventHubs.csproj", StringComparison.Ordinal)));
        Assert.Equal(["src/ConfusionMatrix.Streaming.EventHubs/ConfusionMatrix.Streaming.EventHubs.csproj"], MissingBeforeRestore(dockerfile, projects));
    }

    [Fact]
    public async Task BuildStage_RestoresAndPublishesTheSilo_OutsideDocker()
    {
        var context = Directory.CreateTempSubdirectory("image-build-").FullName;
        var app = Path.Combine(context, "app");
        var work = Path.Combine(context, "src");
        try
        {
            var ran = 0;
            foreach (var step in BuildStage(File.ReadAllText(Path.Combine(Root, "Dockerfile"))))
            {
                if (step.Kind == "COPY")
                {
                    var parts = step.Argument.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                    foreach (var source in parts[..^1])
                    {
                        CopyIntoContext(source, Path.Combine(work, parts[^1]));
                    }
                }
                else if (step.Kind == "RUN")
                {
                    var command = step.Argument.Replace(" /app", " " + app, StringComparison.Ordinal);
                    var (exit, log) = await RunAsync(work, command);
                    Expect.Equal(0, exit, $"RUN {command} failed:\n{log[^Math.Min(log.Length, 6000)..]}");
                    output.WriteLine($"RUN {command}: ok");
                    ran++;
                }
            }

            Assert.Equal(2, ran);
            Assert.True(File.Exists(Path.Combine(app, "ConfusionMatrix.Silo.dll")), "the publish output holds the silo");
            Assert.True(File.Exists(Path.Combine(app, "ConfusionMatrix.Streaming.EventHubs.dll")), "the publish output holds the Event Hubs adapter");
        }
        finally
        {
            Directory.Delete(context, recursive: true);
        }
    }

    /// <summary>The silo project and every project it references, directly or not, as repository-relative paths.</summary>
    internal static SortedSet<string> ReferencedProjects(string project)
    {
        var found = new SortedSet<string>(StringComparer.Ordinal);
        var pending = new Stack<string>([project]);
        while (pending.TryPop(out var next))
        {
            if (!found.Add(next))
            {
                continue;
            }

            var directory = Path.GetDirectoryName(Path.Combine(Root, next))!;
            foreach (var reference in XDocument.Load(Path.Combine(Root, next)).Descendants("ProjectReference"))
            {
                var full = Path.GetFullPath(Path.Combine(directory, reference.Attribute("Include")!.Value.Replace('\\', '/')));
                pending.Push(Path.GetRelativePath(Root, full).Replace('\\', '/'));
            }
        }

        return found;
    }

    /// <summary>Projects (and the Directory.*.props) not copied by a COPY of the build stage before its first restore.</summary>
    internal static List<string> MissingBeforeRestore(string dockerfile, IEnumerable<string> projects)
    {
        var copied = new List<string>();
        foreach (var step in BuildStage(dockerfile))
        {
            if (step.Kind == "RUN" && step.Argument.Contains("dotnet restore", StringComparison.Ordinal))
            {
                return [.. projects.Append("Directory.Build.props").Append("Directory.Packages.props").Where(p => !copied.Any(c => Covers(c, p)))];
            }

            if (step.Kind == "COPY")
            {
                copied.AddRange(step.Argument.Split(' ', StringSplitOptions.RemoveEmptyEntries)[..^1]);
            }
        }

        throw new InvalidOperationException("The Dockerfile's build stage has no `RUN dotnet restore`.");
    }

    private static bool Covers(string source, string path) =>
        source == path || (source.EndsWith('/') && path.StartsWith(source, StringComparison.Ordinal)) || source == ".";

    /// <summary>The instructions of the first stage, continuation lines joined, ARG/ENV/WORKDIR/FROM left out.</summary>
    private static IEnumerable<(string Kind, string Argument)> BuildStage(string dockerfile)
    {
        var joined = ContinuationPattern().Replace(dockerfile, " ");
        var stages = 0;
        foreach (var raw in joined.Split('\n'))
        {
            var line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#'))
            {
                continue;
            }

            var space = line.IndexOf(' ');
            var kind = space < 0 ? line : line[..space];
            if (kind == "FROM" && ++stages > 1)
            {
                yield break;
            }

            if (kind is "COPY" or "RUN")
            {
                var argument = WhitespacePattern().Replace(line[(space + 1)..], " ");
                Assert.DoesNotContain("--from", argument, StringComparison.Ordinal);
                yield return (kind, argument);
            }
        }
    }

    /// <summary>COPY from the repository as the Docker build context does: bin/ and obj/ are in .dockerignore.</summary>
    private static void CopyIntoContext(string source, string destination)
    {
        var from = Path.Combine(Root, source);
        if (File.Exists(from))
        {
            Directory.CreateDirectory(destination);
            File.Copy(from, Path.Combine(destination, Path.GetFileName(from)), overwrite: true);
            return;
        }

        Assert.True(Directory.Exists(from), $"COPY source {source} does not exist");
        foreach (var file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            var relative = Path.GetRelativePath(from, file);
            if (relative.Split(Path.DirectorySeparatorChar).Any(part => part is "bin" or "obj"))
            {
                continue;
            }

            var target = Path.Combine(destination, relative);
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target, overwrite: true);
        }
    }

    private static async Task<(int Exit, string Log)> RunAsync(string directory, string command)
    {
        var start = new ProcessStartInfo("bash") { WorkingDirectory = directory, RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add(command);

        // The test host's MSBuild settings must not leak in; no build servers may outlive the test.
        foreach (var name in start.Environment.Keys.Where(k => k.StartsWith("MSBUILD", StringComparison.OrdinalIgnoreCase) || k.StartsWith("VSTEST", StringComparison.OrdinalIgnoreCase)).ToList())
        {
            start.Environment.Remove(name);
        }

        start.Environment["MSBUILDDISABLENODEREUSE"] = "1";
        start.Environment["DOTNET_CLI_USE_MSBUILD_SERVER"] = "0";
        start.Environment["UseSharedCompilation"] = "false";
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var deadline = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        await process.WaitForExitAsync(deadline.Token);
        return (process.ExitCode, await stdout + await stderr);
    }

    [GeneratedRegex(@"\\\r?\n")]
    private static partial Regex ContinuationPattern();

    [GeneratedRegex(@"\s+")]
    private static partial Regex WhitespacePattern();
}
