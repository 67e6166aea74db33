using System.CommandLine;
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using ConfusionMatrix.Api.Contracts;
using ConfusionMatrix.Cli.Evaluation;
using ConfusionMatrix.Cli.Input;

namespace ConfusionMatrix.Cli;

/// <summary>What one pass over a prediction file counted, and how fast.</summary>
public sealed record FileEvaluation(PredictionEvaluator Evaluator, TimeSpan Elapsed, long PeakWorkingSetBytes)
{
    public double RecordsPerSecond => Evaluator.Records / Math.Max(Elapsed.TotalSeconds, 1e-9);

    /// <summary>Reads the whole file block by block through the evaluator.</summary>
    public static async Task<FileEvaluation> RunAsync(string path, string? inputFormat, IReadOnlyList<string>? classes, IReadOnlyList<string>? dimensions, CancellationToken cancellationToken)
    {
        PredictionEvaluator evaluator;
        try
        {
            evaluator = new PredictionEvaluator(classes, dimensions);
        }
        catch (ArgumentException ex)
        {
            throw new CmxException($"--classes: {ex.Message.Split(" (Parameter")[0]}");
        }

        var clock = Stopwatch.StartNew();
        try
        {
            var format = PredictionFileReader.DetectFormat(path, inputFormat);
            await using var reader = await PredictionFileReader.OpenAsync(path, format, keepDetails: false, cancellationToken);
            var block = new RowBlock();
            while (await reader.ReadAsync(block, cancellationToken))
            {
                evaluator.Add(block);
            }
        }
        catch (Exception ex) when (ex is FormatException or IOException or UnauthorizedAccessException or Parquet.ParquetException)
        {
            throw new CmxException($"cannot read {path}: {ex.Message}");
        }

        clock.Stop();
        using var self = Process.GetCurrentProcess();
        return new FileEvaluation(evaluator, clock.Elapsed, self.PeakWorkingSet64);
    }

    public string Summary(string path)
    {
        var e = Evaluator;
        var text = new StringBuilder();
        text.Append($"{path}: {e.Records} records, {e.Counted} counted");
        if (e.Rejected.Count > 0)
        {
            text.Append($", {e.Records - e.Counted} not counted ({string.Join(", ", e.Rejected.Select(r => $"{r.Key} {r.Value}"))}; first: {e.FirstRejection})");
        }

        text.Append($"; {Elapsed.TotalSeconds:0.00} s, {RecordsPerSecond:0} records/s, peak working set {PeakWorkingSetBytes / (1024 * 1024)} MiB");
        return text.ToString();
    }
}

internal static class EvaluateCommand
{
    public static Command Create(CmxConsole console)
    {
        var file = new Argument<string>("FILE") { Description = "Prediction file: NDJSON (.ndjson/.jsonl), CSV (.csv) or Parquet (.parquet)." };
        var classes = new Option<string?>("--classes") { Description = "Class names in matrix order (a,b,…); records with other classes are not counted. Default: every label seen, sorted." };
        var segments = new Option<string?>("--segments") { Description = "Segment dimensions to break down by (region,channel): one matrix per dimension=value." };
        var format = new Option<string>("--format") { Description = "json (the matrix endpoint's shape, one object per segment) or table.", DefaultValueFactory = _ => "json" };
        format.AcceptOnlyFromAmong("json", "table");
        var inputFormat = new Option<string?>("--input-format") { Description = "ndjson, csv or parquet, when the extension does not say." };
        var output = new Option<string?>("--output", "-o") { Description = "Write the report to this file instead of standard output." };
        var strict = new Option<bool>("--strict") { Description = "Exit 2 when any record could not be counted." };

        var command = new Command("evaluate", "Confusion matrices and metrics of a prediction file, for 'all' and each dimension=value, offline.")
        {
            file, classes, segments, format, inputFormat, output, strict,
        };
        command.SetAction(async (parse, ct) =>
        {
            var path = parse.GetValue(file)!;
            var result = await FileEvaluation.RunAsync(path, parse.GetValue(inputFormat), CmxApp.SplitList(parse.GetValue(classes)), CmxApp.SplitList(parse.GetValue(segments)), ct);
            var reports = result.Evaluator.Reports(DateTimeOffset.UtcNow);
            var text = parse.GetValue(format) == "table" ? Table(reports) : JsonSerializer.Serialize(reports, MatrixReport.Json);
            if (parse.GetValue(output) is { } target)
            {
                await File.WriteAllTextAsync(target, text + Environment.NewLine, ct);
            }
            else
            {
                await console.Out.WriteLineAsync(text);
            }

            await console.Error.WriteLineAsync(result.Summary(path));
            return parse.GetValue(strict) && result.Evaluator.Counted < result.Evaluator.Records ? ExitCodes.BadInput : ExitCodes.Ok;
        });
        return command;
    }

    internal static string Table(IReadOnlyList<MatrixResponse> reports)
    {
        var text = new StringBuilder();
        foreach (var r in reports)
        {
            var title = string.IsNullOrEmpty(r.Model) ? r.Segment : $"{r.Model}/{r.Version} {r.Segment}";
            text.AppendLine($"== {title}: {r.Total} predictions, accuracy {r.Metrics.Accuracy:0.0000}, balanced accuracy {r.Metrics.BalancedAccuracy:0.0000}, MCC {r.Metrics.Mcc:0.0000}, kappa {r.Metrics.CohenKappa:0.0000}");
            var width = Math.Max(8, r.Classes.Max(c => c.Length) + 1);
            width = Math.Max(width, r.Counts.SelectMany(row => row).Select(n => n.ToString(System.Globalization.CultureInfo.InvariantCulture).Length + 1).DefaultIfEmpty(1).Max());
            text.Append("actual \\ predicted".PadRight(width + 10));
            foreach (var c in r.Classes)
            {
                text.Append(c.PadLeft(width));
            }

            text.AppendLine($"{"precision",11}{"recall",9}{"f1",9}{"support",10}");
            for (var i = 0; i < r.Classes.Count; i++)
            {
                text.Append(r.Classes[i].PadRight(width + 10));
                foreach (var n in r.Counts[i])
                {
                    text.Append(n.ToString(System.Globalization.CultureInfo.InvariantCulture).PadLeft(width));
                }

                var m = r.Metrics.PerClass[r.Classes[i]];
                text.AppendLine($"{m.Precision,11:0.0000}{m.Recall,9:0.0000}{m.F1,9:0.0000}{m.Support,10}");
            }

            text.AppendLine();
        }

        return text.ToString().TrimEnd();
    }
}
