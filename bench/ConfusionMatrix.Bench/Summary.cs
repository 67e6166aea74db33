using System.Globalization;
using System.Text;

namespace ConfusionMatrix.Bench;

/// <summary>Joins the parts' results, prints the targets check and the machine-readable summary line (last line).</summary>
public static class Summary
{
    public static void Print(string resultsDir)
    {
        var all = Results.LoadAll(resultsDir);
        double Get(string key) => all.TryGetValue(key, out var v) ? v : double.NaN;

        // Cross-part ratio: end-to-end memory path vs the Python dict aggregator in one process.
        if (!double.IsNaN(Get("e2e_b1000_pps")) && !double.IsNaN(Get("pydict_pps")))
        {
            all["e2e_vs_pydict"] = Get("e2e_b1000_pps") / Get("pydict_pps");
        }

        var checks = new List<string[]>
        {
            Check("K=2 AddCells >= 300 M updates/s", Get("kernel_k2_addcells_ups"), v => v >= 300e6, Stats.Rate),
            Check("K=2 AddCells within 2x of plain loop", Get("kernel_k2_ratio"), v => v <= 2, v => Stats.F(v) + "x"),
            Check("e2e batch 1000, 2 streams >= 3 M predictions/s", Get("e2e_b1000_pps"), v => v >= 3e6, Stats.Rate),
            Check("p99 update-to-visible <= 250 ms at half max, every run", Get("e2e_latency_p99_max_ms"), v => v <= 250, v => Stats.F(v, "0.0") + " ms (worst run)"),
            Check("durable (Azurite) >= 0.25 of the memory path", Get("durable_ratio"), v => v >= 0.25, v => Stats.F(v, "0.000") + "x"),
            Check("<= 16 KB per K=2 grain (10k)", Get("e2e_mem_bytes_per_grain_10k"), v => v <= 16 * 1024, Stats.Bytes),
            Check("<= 16 KB per K=2 grain (100k)", Get("e2e_mem_bytes_per_grain_100k"), v => v <= 16 * 1024, Stats.Bytes),
        };
        Stats.PrintTable("Targets", ["target", "measured", "verdict"], checks);

        var line = new StringBuilder("summary:");
        foreach (var (key, value) in all.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            line.Append(' ').Append(key).Append('=').Append(Format(value));
        }

        Console.WriteLine();
        Console.WriteLine(line.ToString());
    }

    private static string[] Check(string name, double value, Func<double, bool> ok, Func<double, string> format) =>
        double.IsNaN(value) ? [name, "not run", "-"] : [name, format(value), ok(value) ? "MET" : "MISSED"];

    private static string Format(double value)
    {
        if (double.IsNaN(value))
        {
            return "nan";
        }

        var abs = Math.Abs(value);
        if (abs >= 1000 && abs == Math.Floor(abs))
        {
            return value.ToString("0", CultureInfo.InvariantCulture);
        }

        return abs >= 1000 ? value.ToString("0", CultureInfo.InvariantCulture) : value.ToString("0.####", CultureInfo.InvariantCulture);
    }
}
