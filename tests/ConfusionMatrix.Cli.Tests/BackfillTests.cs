using System.Diagnostics;
using System.Text.Json;

namespace ConfusionMatrix.Cli.Tests;

[Collection(LiveSiloCollection.Name)]
public sealed class BackfillTests(LiveSiloFixture silo, Xunit.Abstractions.ITestOutputHelper log)
{
    private const int Records = 200_000;

    [Fact]
    public async Task BackfillKilledWithSigkillAndResumed_CountsEveryRecordExactlyOnce()
    {
        await silo.RegisterAsync("backfill-model", ["legit", "fraud", "review"], ["region"]);
        var dir = CliRunner.TempDirectory();
        var file = Path.Combine(dir, "history.ndjson");
        var random = new Random(11);
        string[] classes = ["legit", "fraud", "review"];
        string[] regions = ["EU", "US", "APAC"];
        var actual = Enumerable.Range(0, Records).Select(_ => classes[random.Next(3)]).ToArray();
        var predicted = actual.Select(a => random.NextDouble() < 0.8 ? a : classes[random.Next(3)]).ToArray();
        await PredictionFiles.WriteAsync(file, actual, predicted, i => regions[i % 3], model: "backfill-model", version: "v1");
        var checkpoint = file + ".cmx-backfill.json";
        string[] common = ["backfill", file, "--url", silo.BaseAddress.ToString(), "--gateway", $"127.0.0.1:{silo.GatewayPort}", "--chunk-size", "1000", "--no-progress"];

        // First run, throttled so it is surely mid-way when killed: SIGKILL once a checkpoint past 40 000 records is on
        // disk and the silo has counted records beyond it, which the resumed run will send again.
        using (var first = CliRunner.Start([.. common, "--max-rate", "25000"]))
        {
            var clock = Stopwatch.StartNew();
            while (CheckpointedRecords(checkpoint) is var saved && (saved < 40_000 || await TotalAsync("all") <= saved))
            {
                if (first.HasExited)
                {
                    Assert.Fail($"the first run ended (exit {first.ExitCode}) before it was killed: {await first.StandardOutput.ReadToEndAsync()}\n{await first.StandardError.ReadToEndAsync()}");
                }

                Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), "no checkpoint past 40 000 records within 60 s");
                await Task.Delay(50);
            }

            first.Kill(); // SIGKILL on Linux: no drain, no final checkpoint.
            await first.WaitForExitAsync();
        }

        var checkpointed = CheckpointedRecords(checkpoint);
        var countedAtKill = await TotalAsync("all");
        Assert.InRange(checkpointed, 40_000, Records - 1);
        Assert.InRange(countedAtKill, checkpointed + 1, Records - 1);

        // Resume: re-sends from the checkpoint with the same producer id and sequences.
        using var second = CliRunner.Start(common);
        var output = await second.StandardOutput.ReadToEndAsync();
        var error = await second.StandardError.ReadToEndAsync();
        await second.WaitForExitAsync();
        Expect.Equal(0, second.ExitCode, $"{output}\n{error}");
        Assert.Contains($"resuming {file} at record {checkpointed}", error);
        log.WriteLine($"killed with {checkpointed} records checkpointed and {countedAtKill} counted by the silo; resumed run: {output.Trim()}");

        // Exactly once: the silo's matrices equal the offline evaluation of the same file, cell by cell.
        var report = Path.Combine(dir, "offline.json");
        var offline = await CliRunner.RunAsync("evaluate", file, "--classes", "legit,fraud,review", "--segments", "region", "-o", report);
        Assert.Equal(0, offline.ExitCode);
        using var expected = JsonDocument.Parse(await File.ReadAllTextAsync(report));
        foreach (var segment in new[] { "all", "region=EU", "region=US", "region=APAC" })
        {
            using var live = await MatrixAsync(segment);
            var want = expected.RootElement.EnumerateArray().Single(e => e.GetProperty("segment").GetString() == segment);
            Assert.Equal(ReferenceData.Matrix(want.GetProperty("counts")), ReferenceData.Matrix(live.RootElement.GetProperty("counts")));

            // The offline report has the matrix endpoint's JSON shape.
            Assert.Equal(Names(live.RootElement), Names(want));
            Assert.Equal(Names(live.RootElement.GetProperty("metrics")), Names(want.GetProperty("metrics")));
        }

        Assert.Equal(Records, await TotalAsync("all"));

        // A third run finds the checkpoint complete; a forced replay is recognised as duplicates.
        var again = await CliRunner.RunAsync([.. common, "--restart"]);
        Expect.Equal(0, again.ExitCode, again.ToString());
        Assert.Equal(Records, await TotalAsync("all"));
    }

    private static string[] Names(JsonElement e) => [.. e.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal)];

    private static long CheckpointedRecords(string path)
    {
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(path));
            return doc.RootElement.GetProperty("nextRecord").GetInt64();
        }
        catch (Exception ex) when (ex is IOException or JsonException)
        {
            return -1;
        }
    }

    private async Task<JsonDocument> MatrixAsync(string segment)
    {
        var text = await silo.Http.GetStringAsync($"api/v1/models/backfill-model/versions/v1/segments/{Uri.EscapeDataString(segment)}/matrix?window=all");
        return JsonDocument.Parse(text);
    }

    private async Task<long> TotalAsync(string segment)
    {
        using var doc = await MatrixAsync(segment);
        if (!doc.RootElement.TryGetProperty("total", out _))
        {
            return 0;
        }

        return doc.RootElement.GetProperty("total").GetInt64();
    }
}
