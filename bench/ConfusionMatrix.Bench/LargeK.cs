using System.Diagnostics;
using ConfusionMatrix.Core;

namespace ConfusionMatrix.Bench;

/// <summary>Memory of ConfusionCounts and RollingConfusionWindows at large K, dense vs sparse traffic.</summary>
public static class LargeK
{
    private sealed class ManualClock(DateTimeOffset start) : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = start;

        public override DateTimeOffset GetUtcNow() => Now;
    }

    public static void Run(bool quick, string resultsDir)
    {
        var results = new Results(resultsDir, "largek");
        var rows = new List<string[]>();
        var n = quick ? 500_000 : 2_000_000;
        var scenarios = new (string Name, int K, int[] Cells)[]
        {
            ("K=100, all cells hit", 100, Uniform(100, n, 1)),
            ("K=1000, all cells hit", 1000, Uniform(1000, n, 2)),
            ("K=1000, ~5000 distinct cells (detection-style)", 1000, Detection(1000, 5000, n, 3)),
        };

        foreach (var (name, k, cells) in scenarios)
        {
            // Measured: the matrix object alone, built from pre-generated cells.
            var before = Stats.SettledHeapBytes();
            var counts = new ConfusionCounts(k);
            var sw = Stopwatch.StartNew();
            counts.AddCells(cells);
            var addSeconds = sw.Elapsed.TotalSeconds;
            var after = Stats.SettledHeapBytes();
            var measured = after - before;
            GC.KeepAlive(counts);
            GC.KeepAlive(cells);

            var denseBefore = Stats.SettledHeapBytes();
            var dense = new long[k * k];
            foreach (var c in cells)
            {
                dense[c]++;
            }

            var denseMeasured = Stats.SettledHeapBytes() - denseBefore;
            GC.KeepAlive(dense);

            var key = $"largek_k{k}_{(name.Contains("distinct", StringComparison.Ordinal) ? "sparse" : "full")}";
            results.Set(key + "_nonzero", counts.NonZeroCellCount);
            results.Set(key + "_estimated_bytes", counts.EstimatedManagedBytes);
            results.Set(key + "_measured_bytes", measured);
            results.Set(key + "_dense_bytes", denseMeasured);
            results.Set(key + "_add_ups", cells.Length / addSeconds);
            rows.Add([
                name,
                counts.IsSparse ? "sparse" : "dense",
                counts.NonZeroCellCount.ToString("N0"),
                Stats.Bytes(counts.EstimatedManagedBytes),
                Stats.Bytes(measured),
                Stats.F((double)measured / counts.NonZeroCellCount, "0.0"),
                Stats.Bytes(denseMeasured),
                Stats.F((double)measured / denseMeasured, "0.00") + "x",
                Stats.Rate(cells.Length / addSeconds),
            ]);
        }

        Stats.PrintTable(
            $"Part 4a: ConfusionCounts memory at large K ({n:N0} predictions; 'dense' = a plain long[K*K] with the same counts)",
            ["traffic", "storage", "non-zero cells", "estimated", "measured (GC)", "B / non-zero", "dense long[K*K]", "ours / dense", "AddCells rate"],
            rows);

        // Rolling windows at K=1000 with sparse traffic: one hour of minutes, each minute ~5000 distinct cells.
        var minutes = 60;
        var perMinute = quick ? 5_000 : 20_000;
        var clock = new ManualClock(new DateTimeOffset(2026, 11, 27, 0, 0, 0, TimeSpan.Zero));
        var windowCells = Detection(1000, 5000, minutes * perMinute, 4);
        var ticks = new long[perMinute];
        var wBefore = Stats.SettledHeapBytes();
        var windows = new RollingConfusionWindows(1000, clock);
        var recordSw = Stopwatch.StartNew();
        for (var m = 0; m < minutes; m++)
        {
            clock.Now = clock.Now.AddMinutes(1);
            Array.Fill(ticks, clock.Now.UtcTicks - TimeSpan.TicksPerSecond);
            windows.RecordBatch(windowCells.AsSpan(m * perMinute, perMinute), ticks);
        }

        var recordSeconds = recordSw.Elapsed.TotalSeconds;
        var wMeasured = Stats.SettledHeapBytes() - wBefore;
        var estimated = windows.EstimatedManagedBytes;
        GC.KeepAlive(windows);
        GC.KeepAlive(windowCells); // the input must stay alive across both heap readings, or its release hides the windows
        GC.KeepAlive(ticks);
        // 1 all-time + 60 minute + up to 26 hour buckets would each be 8 MB if dense.
        var denseEquivalent = (1 + minutes + 2) * (8.0 * 1000 * 1000);
        results.Set("largek_windows_k1000_estimated_bytes", estimated);
        results.Set("largek_windows_k1000_measured_bytes", wMeasured);
        results.Set("largek_windows_k1000_dense_equiv_bytes", denseEquivalent);
        results.Set("largek_windows_k1000_record_ups", minutes * perMinute / recordSeconds);
        Stats.PrintTable(
            "Part 4b: RollingConfusionWindows at K=1000, sparse traffic (60 minutes x ~5000 distinct cells)",
            ["predictions", "all-time non-zero", "estimated", "measured (GC)", "dense equivalent", "record rate"],
            [[
                (minutes * perMinute).ToString("N0"),
                windows.AllTime.NonZeroCellCount.ToString("N0"),
                Stats.Bytes(estimated),
                Stats.Bytes(wMeasured),
                Stats.Bytes(denseEquivalent),
                Stats.Rate(minutes * perMinute / recordSeconds),
            ]]);
        results.Save();
    }

    private static int[] Uniform(int k, int n, int seed)
    {
        var random = new Random(seed);
        var cells = new int[n];
        for (var i = 0; i < n; i++)
        {
            cells[i] = random.Next(k * k);
        }

        return cells;
    }

    /// <summary>Object-detection style: every class on the diagonal, plus a fixed set of confusable pairs; about
    /// <paramref name="distinct"/> cells ever non-zero.</summary>
    private static int[] Detection(int k, int distinct, int n, int seed)
    {
        var random = new Random(seed);
        var offDiagonal = new int[distinct - k];
        for (var i = 0; i < offDiagonal.Length; i++)
        {
            int a, p;
            do
            {
                a = random.Next(k);
                p = random.Next(k);
            }
            while (a == p);
            offDiagonal[i] = (a * k) + p;
        }

        var cells = new int[n];
        for (var i = 0; i < n; i++)
        {
            if (random.NextDouble() < 0.8)
            {
                var c = random.Next(k);
                cells[i] = (c * k) + c;
            }
            else
            {
                cells[i] = offDiagonal[random.Next(offDiagonal.Length)];
            }
        }

        return cells;
    }
}
