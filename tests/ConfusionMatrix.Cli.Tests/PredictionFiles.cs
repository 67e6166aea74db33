using System.Text;
using System.Text.Json;
using Parquet;
using Parquet.Schema;

namespace ConfusionMatrix.Cli.Tests;

/// <summary>Writes labelled predictions as NDJSON, CSV or Parquet (two row groups), by extension.</summary>
public static class PredictionFiles
{
    public static async Task WriteAsync(string path, IReadOnlyList<string> actual, IReadOnlyList<string> predicted, Func<int, string> region, string model = "m", string version = "v1")
    {
        switch (Path.GetExtension(path))
        {
            case ".ndjson":
                {
                    await using var writer = new StreamWriter(path, false, new UTF8Encoding(false));
                    for (var i = 0; i < actual.Count; i++)
                    {
                        await writer.WriteLineAsync(JsonSerializer.Serialize(new
                        {
                            predictionId = $"p-{i}",
                            model,
                            version,
                            predicted = predicted[i],
                            actual = actual[i],
                            timestamp = DateTimeOffset.UtcNow.AddMinutes(-5),
                            segments = new Dictionary<string, string> { ["region"] = region(i) },
                        }));
                    }

                    break;
                }

            case ".csv":
                {
                    await using var writer = new StreamWriter(path, false, new UTF8Encoding(false));
                    await writer.WriteLineAsync("predictionId,model,version,predicted,actual,region");
                    for (var i = 0; i < actual.Count; i++)
                    {
                        await writer.WriteLineAsync($"p-{i},{model},{version},{Quote(predicted[i])},{Quote(actual[i])},{region(i)}");
                    }

                    break;
                }

            case ".parquet":
                {
                    string[] names = ["predictionId", "model", "version", "predicted", "actual", "region"];
                    var fields = names.Select(n => new DataField<string>(n)).ToArray();
                    await using var stream = File.Create(path);
                    await using var writer = await ParquetWriter.CreateAsync(new ParquetSchema(fields), stream);
                    var half = actual.Count / 2;
                    foreach (var (from, to) in new[] { (0, half), (half, actual.Count) })
                    {
                        if (to == from)
                        {
                            continue;
                        }

                        using var group = writer.CreateRowGroup();
                        var rows = Enumerable.Range(from, to - from).ToList();
                        await group.WriteAsync(fields[0], rows.Select(i => $"p-{i}").ToList());
                        await group.WriteAsync(fields[1], rows.Select(_ => model).ToList());
                        await group.WriteAsync(fields[2], rows.Select(_ => version).ToList());
                        await group.WriteAsync(fields[3], rows.Select(i => predicted[i]).ToList());
                        await group.WriteAsync(fields[4], rows.Select(i => actual[i]).ToList());
                        await group.WriteAsync(fields[5], rows.Select(region).ToList());
                    }

                    break;
                }

            default:
                throw new ArgumentException($"unknown extension of {path}");
        }
    }

    private static string Quote(string cell) => cell.Contains(',') || cell.Contains('"') ? "\"" + cell.Replace("\"", "\"\"") + "\"" : cell;
}
