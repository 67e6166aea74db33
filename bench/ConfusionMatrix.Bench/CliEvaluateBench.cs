using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace ConfusionMatrix.Bench;

/// <summary>
/// <c>cmx evaluate</c> on a large NDJSON prediction file (10 M records, 3 segment dimensions), run as the real tool in
/// its own process, next to a Python json.loads-per-line peer on the same file. Bounded memory: the tool's peak working
/// set on a file a tenth the size is compared with the full file's.
/// </summary>
public static class CliEvaluateBench
{
    private static readonly string[] Regions = ["EU", "US", "APAC", "LATAM"];
    private static readonly string[] Channels = ["web", "app", "pos"];
    private static readonly string[] Devices = ["ios", "android", "desktop"];

    public static void Run(bool quick, string resultsDir, string python, string script, string cmxDll)
    {
        var n = quick ? 1_000_000 : 10_000_000;
        Directory.CreateDirectory(resultsDir);
        var small = Path.Combine(resultsDir, "cli-small.ndjson");
        var large = Path.Combine(resultsDir, "cli-large.ndjson");
        WriteFile(small, n / 10);
        WriteFile(large, n);
        var bytes = new FileInfo(large).Length;
        try
        {
            var (smallRate, smallPeak, _) = RunCmx(cmxDll, small);
            var (rate, peak, total) = RunCmx(cmxDll, large);
            if (total != n)
            {
                throw new InvalidOperationException($"cmx counted {total} of {n} records");
            }

            var peer = RunPython(python, script, large, n);
            var results = new Results(resultsDir, "cli");
            results.Set("cli_evaluate_n", n);
            results.Set("cli_evaluate_rps", rate);
            results.Set("cli_evaluate_peak_mib", peak);
            results.Set("cli_evaluate_small_peak_mib", smallPeak);
            results.Set("cli_python_ndjson_rps", peer);
            results.Set("cli_evaluate_vs_python", rate / peer);
            results.Save();
            Stats.PrintTable(
                $"Part 5: cmx evaluate on NDJSON ({n:N0} records, {bytes / (1024 * 1024):N0} MiB, 2 classes, 3 segment dimensions; whole run incl. process start)",
                ["reader", "rate", "peak working set", "cmx / this"],
                [
                    ["cmx evaluate (Utf8JsonReader, streaming)", Stats.Rate(rate), $"{peak:0} MiB (a tenth of the file: {smallPeak:0} MiB, {Stats.Rate(smallRate)})", "1.00"],
                    ["Python json.loads per line + dicts", Stats.Rate(peer), "-", Stats.F(rate / peer, "0.0") + "x"],
                ]);
        }
        finally
        {
            File.Delete(small);
            File.Delete(large);
        }
    }

    private static (double Rate, double PeakMiB, long Total) RunCmx(string cmxDll, string file)
    {
        var output = Path.ChangeExtension(file, ".report.json");
        var psi = new ProcessStartInfo("dotnet", [cmxDll, "evaluate", file, "--classes", "legit,fraud", "--segments", "region,channel,device", "-o", output])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEnd();
        var stderr = process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"cmx evaluate failed ({process.ExitCode}): {stdout}{stderr}");
        }

        // "FILE: N records, N counted; 1.23 s, 456 records/s, peak working set 78 MiB"
        var summary = stderr.Trim().Split('\n')[^1];
        double Number(string before)
        {
            var end = summary.IndexOf(before, StringComparison.Ordinal);
            var start = summary.LastIndexOf(' ', end - 2) + 1;
            return double.Parse(summary[start..(end - 1)], CultureInfo.InvariantCulture);
        }

        using var report = JsonDocument.Parse(File.ReadAllText(output));
        var total = report.RootElement.EnumerateArray().First(e => e.GetProperty("segment").GetString() == "all").GetProperty("total").GetInt64();
        File.Delete(output);
        return (Number("records/s"), Number("MiB"), total);
    }

    /// <summary>The Python NDJSON peer (<c>peers_ndjson.py</c>) on <paramref name="file"/>: its records/s, after checking it counted all <paramref name="n"/>.</summary>
    internal static double RunPython(string python, string script, string file, long n)
    {
        var psi = new ProcessStartInfo(python, [script, file, "region,channel,device"]) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEnd();
        var stderr = process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{python} {script} failed ({process.ExitCode}): {stderr}");
        }

        using var doc = JsonDocument.Parse(stdout.Trim().Split('\n')[^1]);
        if (doc.RootElement.GetProperty("total").GetInt64() != n)
        {
            throw new InvalidOperationException($"the Python peer counted {stdout}, expected {n}");
        }

        return doc.RootElement.GetProperty("rps").GetDouble();
    }

    private static void WriteFile(string path, int n)
    {
        var random = new Random(2026);
        using var writer = new StreamWriter(path, false, new UTF8Encoding(false), 1 << 20);
        var start = new DateTimeOffset(2026, 11, 1, 0, 0, 0, TimeSpan.Zero);
        for (var i = 0; i < n; i++)
        {
            var actual = random.NextDouble() < 0.1 ? "fraud" : "legit";
            var predicted = random.NextDouble() < 0.9 ? actual : (actual == "fraud" ? "legit" : "fraud");
            writer.Write("{\"predictionId\":\"p-");
            writer.Write(i.ToString(CultureInfo.InvariantCulture));
            writer.Write("\",\"model\":\"fraud\",\"version\":\"v7\",\"predicted\":\"");
            writer.Write(predicted);
            writer.Write("\",\"actual\":\"");
            writer.Write(actual);
            writer.Write("\",\"score\":0.5,\"timestamp\":\"");
            writer.Write(start.AddSeconds(i / 100).ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture));
            writer.Write("\",\"segments\":{\"region\":\"");
            writer.Write(Regions[random.Next(Regions.Length)]);
            writer.Write("\",\"channel\":\"");
            writer.Write(Channels[random.Next(Channels.Length)]);
            writer.Write("\",\"device\":\"");
            writer.Write(Devices[random.Next(Devices.Length)]);
            writer.Write("\"}}\n");
        }
    }
}
