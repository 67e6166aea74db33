using System.Globalization;
using System.Text;
using System.Text.Json;

namespace ConfusionMatrix.Bench;

/// <summary>Flat key=value results of one part, saved as JSON in the results folder so the summary step can join parts.</summary>
public sealed class Results(string directory, string part)
{
    private readonly SortedDictionary<string, double> _values = new(StringComparer.Ordinal);

    public void Set(string key, double value) => _values[key] = value;

    public void Save()
    {
        Directory.CreateDirectory(directory);
        File.WriteAllText(Path.Combine(directory, part + ".json"), JsonSerializer.Serialize(_values));
    }

    public static Dictionary<string, double> LoadAll(string directory)
    {
        var all = new Dictionary<string, double>(StringComparer.Ordinal);
        if (!Directory.Exists(directory))
        {
            return all;
        }

        foreach (var file in Directory.GetFiles(directory, "*.json").Order(StringComparer.Ordinal))
        {
            var values = JsonSerializer.Deserialize<Dictionary<string, double>>(File.ReadAllText(file)) ?? [];
            foreach (var (k, v) in values)
            {
                all[k] = v;
            }
        }

        return all;
    }
}

/// <summary>Small helpers: medians, percentiles, number formatting, plain-text tables.</summary>
public static class Stats
{
    public static double Median(IReadOnlyList<double> values)
    {
        if (values.Count == 0)
        {
            return double.NaN;
        }

        var sorted = values.Order().ToArray();
        var mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }

    /// <summary>Nearest-rank percentile (p in 0..100).</summary>
    public static double Percentile(IReadOnlyList<double> values, double p)
    {
        if (values.Count == 0)
        {
            return double.NaN;
        }

        var sorted = values.Order().ToArray();
        var rank = (int)Math.Ceiling(p / 100.0 * sorted.Length);
        return sorted[Math.Clamp(rank - 1, 0, sorted.Length - 1)];
    }

    public static string Rate(double perSecond) => perSecond switch
    {
        double.NaN => "n/a",
        >= 1e9 => (perSecond / 1e9).ToString("0.00", CultureInfo.InvariantCulture) + " G/s",
        >= 1e6 => (perSecond / 1e6).ToString("0.00", CultureInfo.InvariantCulture) + " M/s",
        >= 1e3 => (perSecond / 1e3).ToString("0.0", CultureInfo.InvariantCulture) + " k/s",
        _ => perSecond.ToString("0.0", CultureInfo.InvariantCulture) + " /s",
    };

    public static string Bytes(double bytes) => bytes switch
    {
        double.NaN => "n/a",
        >= 1 << 20 => (bytes / (1 << 20)).ToString("0.00", CultureInfo.InvariantCulture) + " MB",
        >= 1 << 10 => (bytes / 1024).ToString("0.0", CultureInfo.InvariantCulture) + " KB",
        _ => bytes.ToString("0", CultureInfo.InvariantCulture) + " B",
    };

    public static string F(double value, string format = "0.00") =>
        double.IsNaN(value) ? "n/a" : value.ToString(format, CultureInfo.InvariantCulture);

    public static void PrintTable(string title, string[] header, IEnumerable<string[]> rows)
    {
        var all = new List<string[]> { header };
        all.AddRange(rows);
        var widths = new int[header.Length];
        foreach (var row in all)
        {
            for (var i = 0; i < row.Length && i < widths.Length; i++)
            {
                widths[i] = Math.Max(widths[i], row[i].Length);
            }
        }

        var sb = new StringBuilder();
        sb.AppendLine();
        sb.AppendLine("== " + title + " ==");
        for (var r = 0; r < all.Count; r++)
        {
            sb.Append("| ");
            for (var i = 0; i < widths.Length; i++)
            {
                var cell = i < all[r].Length ? all[r][i] : "";
                sb.Append(cell.PadRight(widths[i])).Append(" | ");
            }

            sb.Length -= 1;
            sb.AppendLine();
            if (r == 0)
            {
                sb.Append('|');
                foreach (var w in widths)
                {
                    sb.Append(new string('-', w + 2)).Append('|');
                }

                sb.AppendLine();
            }
        }

        Console.Write(sb.ToString());
    }

    /// <summary>Forces full, compacting collections until the heap size settles, then returns it.</summary>
    public static long SettledHeapBytes()
    {
        var last = GC.GetTotalMemory(forceFullCollection: true);
        for (var i = 0; i < 3; i++)
        {
            GC.WaitForPendingFinalizers();
            var now = GC.GetTotalMemory(forceFullCollection: true);
            if (Math.Abs(now - last) < 64 * 1024)
            {
                return now;
            }

            last = now;
        }

        return last;
    }
}
