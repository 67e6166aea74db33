using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.Json;
using ConfusionMatrix.Core;

namespace ConfusionMatrix.Bench;

/// <summary>Same prediction file for every peer: scikit-learn, a Python dict-of-dicts loop, and ConfusionCounts.</summary>
public static class Peers
{
    public static void Run(bool quick, string resultsDir, string python, string script)
    {
        const int k = 2;
        var n = quick ? 2_000_000 : 10_000_000;
        var runs = quick ? 3 : 5;
        Directory.CreateDirectory(resultsDir);
        var path = Path.Combine(resultsDir, "peers-labels.i32");
        WriteFile(path, n, k);

        // Ours: read the same file, map (actual, predicted) to cells and count, timed like the peers (counting only).
        var raw = MemoryMarshal.Cast<byte, int>(File.ReadAllBytes(path)).ToArray();
        var actual = raw.AsSpan(2, n).ToArray();
        var predicted = raw.AsSpan(2 + n, n).ToArray();
        var cells = new int[n];
        var ours = new List<double>();
        long oursTotal = 0;
        for (var r = 0; r < runs + 1; r++)
        {
            var sw = Stopwatch.StartNew();
            for (var i = 0; i < cells.Length; i++)
            {
                cells[i] = (actual[i] * k) + predicted[i];
            }

            var counts = new ConfusionCounts(k);
            counts.AddCells(cells);
            var seconds = sw.Elapsed.TotalSeconds;
            oursTotal = counts.Total;
            if (r > 0)
            {
                ours.Add(n / seconds); // run 0 is warm-up (tier-0 JIT)
            }
        }

        // Peers in the same invocation, on the same file.
        var psi = new ProcessStartInfo(python, [script, path, (quick ? 2 : 3).ToString()])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        psi.Environment.Remove("OPENBLAS_CORETYPE");
        psi.Environment.Remove("OPENBLAS_L2_SIZE");
        using var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEnd();
        var stderr = process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{python} {script} failed ({process.ExitCode}): {stderr}");
        }

        using var doc = JsonDocument.Parse(stdout.Trim().Split('\n')[^1]);
        var root = doc.RootElement;
        var sklearn = root.GetProperty("sklearn_pps").GetDouble();
        var pydict = root.GetProperty("pydict_pps").GetDouble();
        if (root.GetProperty("sklearn_total").GetInt64() != oursTotal || root.GetProperty("pydict_total").GetInt64() != oursTotal)
        {
            throw new InvalidOperationException($"peers disagree on the total: ours {oursTotal}, {stdout}");
        }

        var oursRate = Stats.Median(ours);
        var results = new Results(resultsDir, "peers");
        results.Set("peers_n", n);
        results.Set("ours_file_pps", oursRate);
        results.Set("sklearn_pps", sklearn);
        results.Set("pydict_pps", pydict);
        results.Set("ours_vs_sklearn", oursRate / sklearn);
        results.Set("ours_vs_pydict", oursRate / pydict);
        results.Save();

        Stats.PrintTable(
            $"Part 3: peers on the same file ({n:N0} labels, K={k}; counting only, medians; sklearn {root.GetProperty("sklearn_version").GetString()} on {python})",
            ["counter", "rate", "ours / this"],
            [
                ["ConfusionCounts (cells + AddCells)", Stats.Rate(oursRate), "1.00"],
                ["sklearn.metrics.confusion_matrix", Stats.Rate(sklearn), Stats.F(oursRate / sklearn, "0.0") + "x"],
                ["Python dict-of-dicts loop", Stats.Rate(pydict), Stats.F(oursRate / pydict, "0.0") + "x"],
            ]);
        File.Delete(path);
    }

    private static void WriteFile(string path, int n, int k)
    {
        var random = new Random(2026);
        var data = new int[2 + (2 * n)];
        data[0] = n;
        data[1] = k;
        for (var i = 0; i < n; i++)
        {
            var a = random.NextDouble() < 0.1 ? 1 : 0;
            data[2 + i] = a;
            data[2 + n + i] = random.NextDouble() < 0.9 ? a : random.Next(k);
        }

        File.WriteAllBytes(path, MemoryMarshal.AsBytes(data.AsSpan()).ToArray());
    }
}
