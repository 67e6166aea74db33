using System.Text.Json;
using Parquet;
using Parquet.Schema;

namespace ConfusionMatrix.Cli.Tests;

public sealed class EvaluateTests
{
    public static IEnumerable<object[]> CasesAndFormats() =>
        ReferenceData.CaseNames().SelectMany(c => new[] { "ndjson", "csv", "parquet" }.Select(f => new[] { c[0], c[1], f }));

    [Theory]
    [MemberData(nameof(CasesAndFormats))]
    public async Task EveryReferenceCase_GivesExactlyTheExpectedMatrixAndMetrics(string source, string caseName, string format)
    {
        var c = ReferenceData.LabelledCase(source, caseName);
        var dir = CliRunner.TempDirectory();
        var file = Path.Combine(dir, "predictions." + format);
        await PredictionFiles.WriteAsync(file, c.Actual, c.Predicted, i => i % 3 == 0 ? "EU" : "US");
        var report = Path.Combine(dir, "report.json");

        var result = await CliRunner.RunAsync("evaluate", file, "--classes", string.Join(',', c.Classes), "--segments", "region", "-o", report);

        Expect.Equal(0, result.ExitCode, result.ToString());
        using var doc = JsonDocument.Parse(await File.ReadAllTextAsync(report));
        var all = doc.RootElement.EnumerateArray().Single(e => e.GetProperty("segment").GetString() == "all");
        var expected = c.Expected;
        Assert.Equal(ReferenceData.Matrix(expected.GetProperty("counts")), ReferenceData.Matrix(all.GetProperty("counts")));
        Assert.Equal(expected.GetProperty("total").GetInt64(), all.GetProperty("total").GetInt64());
        Assert.Equal(c.Classes, all.GetProperty("classes").EnumerateArray().Select(e => e.GetString()!).ToArray());
        var metrics = all.GetProperty("metrics");
        foreach (var name in new[] { "accuracy", "balancedAccuracy", "mcc", "cohenKappa" })
        {
            Approx.Equal(expected.GetProperty(name).GetDouble(), metrics.GetProperty(name).GetDouble(), $"{caseName}/{format} {name}");
        }

        foreach (var average in new[] { "macro", "micro", "weighted" })
        {
            foreach (var name in new[] { "precision", "recall", "f1" })
            {
                Approx.Equal(expected.GetProperty(average).GetProperty(name).GetDouble(), metrics.GetProperty(average).GetProperty(name).GetDouble(), $"{caseName}/{format} {average}.{name}");
            }
        }

        foreach (var cls in expected.GetProperty("perClass").EnumerateObject())
        {
            var actual = metrics.GetProperty("perClass").GetProperty(cls.Name);
            foreach (var name in new[] { "tp", "fp", "fn", "tn", "support" })
            {
                Assert.Equal(cls.Value.GetProperty(name).GetInt64(), actual.GetProperty(name).GetInt64());
            }

            foreach (var name in new[] { "precision", "recall", "f1" })
            {
                Approx.Equal(cls.Value.GetProperty(name).GetDouble(), actual.GetProperty(name).GetDouble(), $"{caseName}/{format} {cls.Name}.{name}");
            }
        }

        // The segments partition the records: EU + US add up to all, cell by cell.
        var segments = doc.RootElement.EnumerateArray().Where(e => e.GetProperty("segment").GetString()!.StartsWith("region=", StringComparison.Ordinal)).ToList();
        Assert.Equal(c.Actual.Length > 1 ? 2 : 1, segments.Count);
        Assert.Equal(c.Actual.Length, segments.Sum(e => e.GetProperty("total").GetInt64()));
        var sum = ReferenceData.Matrix(expected.GetProperty("counts")).Select(r => new long[r.Length]).ToArray();
        foreach (var s in segments)
        {
            var m = ReferenceData.Matrix(s.GetProperty("counts"));
            for (var i = 0; i < m.Length; i++)
            {
                for (var j = 0; j < m.Length; j++)
                {
                    sum[i][j] += m[i][j];
                }
            }
        }

        Assert.Equal(ReferenceData.Matrix(expected.GetProperty("counts")), sum);
        var eu = segments.SingleOrDefault(e => e.GetProperty("segment").GetString() == "region=EU");
        Assert.Equal((c.Actual.Length + 2) / 3, eu.ValueKind == JsonValueKind.Undefined ? 0 : eu.GetProperty("total").GetInt64());
    }
}
