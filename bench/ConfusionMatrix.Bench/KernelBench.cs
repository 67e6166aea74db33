using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Loggers;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using ConfusionMatrix.Core;
using Perfolizer.Horology;

namespace ConfusionMatrix.Bench;

/// <summary>Deterministic synthetic traffic: mostly-correct predictions, as a real classifier produces.</summary>
public static class Traffic
{
    public const int CellsPerInvoke = 4096;

    /// <summary>Cells (actual*K + predicted): 85% on the diagonal, the rest uniform off the diagonal.</summary>
    public static int[] Cells(int k, int n, int seed = 42)
    {
        var random = new Random(seed);
        var cells = new int[n];
        for (var i = 0; i < n; i++)
        {
            var actual = random.Next(k);
            var predicted = random.NextDouble() < 0.85 ? actual : random.Next(k);
            cells[i] = (actual * k) + predicted;
        }

        return cells;
    }
}

/// <summary>The hot loop: ConfusionCounts.AddCells against a plain counts[cell]++ loop over the same cells.</summary>
public class CountingBench
{
    private int[] _cells = [];
    private long[] _plain = [];
    private ConfusionCounts _counts = new(2);

    [Params(2, 10, 100)]
    public int K { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _cells = Traffic.Cells(K, Traffic.CellsPerInvoke);
        _plain = new long[K * K];
        _counts = new ConfusionCounts(K);
        _counts.AddCells(_cells); // sparse (K > 64) dictionaries reach their steady size before measuring
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Traffic.CellsPerInvoke)]
    public long PlainLoop()
    {
        var counts = _plain;
        foreach (var cell in _cells)
        {
            counts[cell]++;
        }

        return counts[0];
    }

    [Benchmark(OperationsPerInvoke = Traffic.CellsPerInvoke)]
    public long AddCells()
    {
        _counts.AddCells(_cells);
        return _counts.Total;
    }
}

/// <summary>Per-read costs: metrics of one matrix, divergence of two.</summary>
public class MetricsBench
{
    private ConfusionCounts _live = new(2);
    private ConfusionCounts _baseline = new(2);

    [Params(2, 10, 100)]
    public int K { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _live = new ConfusionCounts(K);
        _live.AddCells(Traffic.Cells(K, 200_000, seed: 1));
        _baseline = new ConfusionCounts(K);
        _baseline.AddCells(Traffic.Cells(K, 200_000, seed: 2));
    }

    [Benchmark]
    public object Compute() => MetricsCalculator.Compute(_live);

    [Benchmark]
    public double Compare() => Divergence.Compare(_live, _baseline).Kl;
}

public static class KernelBench
{
    public static void Run(bool quick, string resultsDir)
    {
        Directory.CreateDirectory(resultsDir);
        var logPath = Path.Combine(resultsDir, "kernel-bdn.log");
        using var log = new StreamWriter(logPath);
        var job = Job.Default
            .WithToolchain(InProcessEmitToolchain.Instance)
            .WithLaunchCount(1)
            .WithWarmupCount(quick ? 1 : 3)
            .WithIterationCount(quick ? 3 : 7)
            .WithIterationTime(TimeInterval.FromMilliseconds(quick ? 60 : 150))
            .WithId(quick ? "quick" : "short");
        var config = ManualConfig.CreateEmpty()
            .AddJob(job)
            .AddColumnProvider(DefaultColumnProviders.Instance)
            .AddLogger(new StreamLogger(log))
            .WithArtifactsPath(Path.Combine(resultsDir, "bdn"))
            .WithOptions(ConfigOptions.DisableLogFile);

        var counting = BenchmarkRunner.Run<CountingBench>(config);
        var metrics = BenchmarkRunner.Run<MetricsBench>(config);
        log.Flush();

        var results = new Results(resultsDir, "kernel");
        var rows = new List<string[]>();
        foreach (var k in new[] { 2, 10, 100 })
        {
            var plain = MedianNs(counting, nameof(CountingBench.PlainLoop), k);
            var add = MedianNs(counting, nameof(CountingBench.AddCells), k);
            var ratio = add / plain;
            results.Set($"kernel_k{k}_plain_ups", 1e9 / plain);
            results.Set($"kernel_k{k}_addcells_ups", 1e9 / add);
            results.Set($"kernel_k{k}_ratio", ratio);
            rows.Add([$"K={k}", k * k > ConfusionCounts.MaxDenseCellCount ? "sparse" : "dense", Stats.Rate(1e9 / plain), Stats.Rate(1e9 / add), Stats.F(ratio) + "x"]);
        }

        Stats.PrintTable(
            "Part 1a: ConfusionCounts.AddCells vs plain counts[cell]++ (updates/s, BenchmarkDotNet median; ratio = time(AddCells)/time(plain), same run)",
            ["K", "storage", "plain loop", "AddCells", "slowdown"],
            rows);

        var metricRows = new List<string[]>();
        foreach (var k in new[] { 2, 10, 100 })
        {
            var compute = MedianNs(metrics, nameof(MetricsBench.Compute), k);
            var compare = MedianNs(metrics, nameof(MetricsBench.Compare), k);
            results.Set($"kernel_k{k}_compute_ns", compute);
            results.Set($"kernel_k{k}_compare_ns", compare);
            metricRows.Add([$"K={k}", Stats.F(compute / 1000, "0.00") + " us", Stats.F(compare / 1000, "0.00") + " us", Stats.Rate(1e9 / compute), Stats.Rate(1e9 / compare)]);
        }

        Stats.PrintTable(
            "Part 1b: MetricsCalculator.Compute and Divergence.Compare (median per call)",
            ["K", "Compute", "Compare", "Compute calls", "Compare calls"],
            metricRows);
        Console.WriteLine($"(BenchmarkDotNet log: {logPath})");
        results.Save();
    }

    private static double MedianNs(BenchmarkDotNet.Reports.Summary summary, string method, int k)
    {
        foreach (var report in summary.Reports)
        {
            if (report.BenchmarkCase.Descriptor.WorkloadMethod.Name == method
                && Equals(report.BenchmarkCase.Parameters["K"], k)
                && report.ResultStatistics is { } stats)
            {
                return stats.Median;
            }
        }

        return double.NaN;
    }
}
