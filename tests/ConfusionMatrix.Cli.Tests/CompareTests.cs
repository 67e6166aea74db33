using ConfusionMatrix.MLflow;

namespace ConfusionMatrix.Cli.Tests;

/// <summary>The holiday story: the fraud model's recall falls from 0.92 to 0.78 while overall accuracy barely moves.</summary>
public sealed class CompareTests
{
    private static readonly string[] Classes = ["legit", "fraud"];

    // Rows actual, columns predicted: 9000 legit (99% recall), 1000 fraud.
    internal static readonly long[][] Baseline = [[8910, 90], [80, 920]];
    internal static readonly long[][] RecallDrop = [[8910, 90], [220, 780]];
    internal static readonly long[][] EquallyGood = [[8905, 95], [76, 924]];

    [Fact]
    public async Task StoryRecallDrop_Exits1_AndSaysWhichClass()
    {
        var dir = CliRunner.TempDirectory();
        var baseline = await WriteMatrixAsync(dir, "baseline.json", Baseline);
        var candidate = await WriteMatrixAsync(dir, "candidate.json", RecallDrop);

        var result = await CliRunner.RunAsync("compare", "--candidate", candidate, "--baseline", baseline);

        Expect.Equal(1, result.ExitCode, result.ToString());
        Assert.Contains("recall of 'fraud' fell from 0.920 to 0.780", result.Out);
    }

    [Fact]
    public async Task EquallyGoodCandidate_Exits0()
    {
        var dir = CliRunner.TempDirectory();
        var baseline = await WriteMatrixAsync(dir, "baseline.json", Baseline);
        var candidate = await WriteMatrixAsync(dir, "candidate.json", EquallyGood);

        var result = await CliRunner.RunAsync("compare", "--candidate", candidate, "--baseline", baseline);

        Expect.Equal(0, result.ExitCode, result.ToString());
        Assert.StartsWith("OK: NoDrift", result.Out);
    }

    [Fact]
    public async Task CandidatePredictionFile_IsEvaluatedAndCompared_WithClassesInAnotherOrder()
    {
        var dir = CliRunner.TempDirectory();
        var (actual, predicted) = Labels(RecallDrop);
        var file = Path.Combine(dir, "candidate.ndjson");
        await PredictionFiles.WriteAsync(file, actual, predicted, _ => "EU");
        // The baseline lists fraud first: rows and columns are matched by name.
        var baseline = Path.Combine(dir, "baseline.json");
        await File.WriteAllBytesAsync(baseline, new ConfusionMatrixArtifact(["fraud", "legit"], [[Baseline[1][1], Baseline[1][0]], [Baseline[0][1], Baseline[0][0]]]).ToUtf8Json());

        var drop = await CliRunner.RunAsync("compare", "--candidate", file, "--baseline", baseline);
        var withinTolerance = await CliRunner.RunAsync("compare", "--candidate", file, "--baseline", baseline, "--min-drop", "0.2");

        Expect.Equal(1, drop.ExitCode, drop.ToString());
        Expect.Equal(0, withinTolerance.ExitCode, withinTolerance.ToString());
    }

    [Fact]
    public async Task BadInput_Exits2_WithTheReason()
    {
        var dir = CliRunner.TempDirectory();
        var baseline = await WriteMatrixAsync(dir, "baseline.json", Baseline);
        var otherClasses = Path.Combine(dir, "other.json");
        await File.WriteAllBytesAsync(otherClasses, new ConfusionMatrixArtifact(["cat", "dog"], [[5, 1], [1, 5]]).ToUtf8Json());
        var broken = Path.Combine(dir, "broken.json");
        await File.WriteAllTextAsync(broken, """{"classes":["legit","fraud"],"counts":[[1,2,3],[4,5]]}""");

        var missing = await CliRunner.RunAsync("compare", "--candidate", Path.Combine(dir, "nope.ndjson"), "--baseline", baseline);
        var mismatch = await CliRunner.RunAsync("compare", "--candidate", otherClasses, "--baseline", baseline);
        var malformed = await CliRunner.RunAsync("compare", "--candidate", broken, "--baseline", baseline);
        var usage = await CliRunner.RunAsync("compare", "--candidate", baseline);

        Expect.Equal(2, missing.ExitCode, missing.ToString());
        Assert.Contains("no such file", missing.Error, StringComparison.Ordinal);
        Expect.Equal(2, mismatch.ExitCode, mismatch.ToString());
        Assert.Contains("class sets must be the same", mismatch.Error, StringComparison.Ordinal);
        Expect.Equal(2, malformed.ExitCode, malformed.ToString());
        Assert.Contains("2x2", malformed.Error, StringComparison.Ordinal);
        Expect.Equal(2, usage.ExitCode, usage.ToString());
        Assert.Contains("--baseline", usage.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Baseline_CanComeFromMLflowByAlias()
    {
        await using var mlflow = await FakeMLflowServer.StartAsync();
        mlflow.Register("fraud", "3", "champion", System.Text.Encoding.UTF8.GetString(new ConfusionMatrixArtifact(Classes, Baseline).ToUtf8Json()));
        var dir = CliRunner.TempDirectory();
        var candidate = await WriteMatrixAsync(dir, "candidate.json", RecallDrop);

        var result = await CliRunner.RunAsync("compare", "--candidate", candidate, "--baseline", "mlflow:fraud@champion", "--tracking-uri", mlflow.Address.ToString());
        var unknownAlias = await CliRunner.RunAsync("compare", "--candidate", candidate, "--baseline", "mlflow:fraud@nope", "--tracking-uri", mlflow.Address.ToString());

        Expect.Equal(1, result.ExitCode, result.ToString());
        Assert.Contains("mlflow:fraud@champion (version 3", result.Out);
        Expect.Equal(2, unknownAlias.ExitCode, unknownAlias.ToString());
        Assert.Contains("RESOURCE_DOES_NOT_EXIST", unknownAlias.Error, StringComparison.Ordinal);
    }

    internal static async Task<string> WriteMatrixAsync(string dir, string name, long[][] counts)
    {
        var path = Path.Combine(dir, name);
        await File.WriteAllBytesAsync(path, new ConfusionMatrixArtifact(Classes, counts).ToUtf8Json());
        return path;
    }

    /// <summary>Label lists that count up to <paramref name="counts"/>, interleaved so any prefix is a fair sample.</summary>
    internal static (string[] Actual, string[] Predicted) Labels(long[][] counts)
    {
        var pairs = new List<(string, string)>();
        for (var a = 0; a < 2; a++)
        {
            for (var p = 0; p < 2; p++)
            {
                for (long n = 0; n < counts[a][p]; n++)
                {
                    pairs.Add((Classes[a], Classes[p]));
                }
            }
        }

        var random = new Random(7);
        var shuffled = pairs.OrderBy(_ => random.Next()).ToList();
        return ([.. shuffled.Select(x => x.Item1)], [.. shuffled.Select(x => x.Item2)]);
    }
}
