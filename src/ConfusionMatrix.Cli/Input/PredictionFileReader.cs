namespace ConfusionMatrix.Cli.Input;

public enum PredictionFileFormat
{
    Ndjson,
    Csv,
    Parquet,
}

/// <summary>
/// Reads a prediction file block by block, never the whole file at once. Every format carries the silo's prediction
/// fields: <c>predictionId, model, version, predicted, actual, score, timestamp</c> and segments (an object in NDJSON;
/// any other column in CSV and Parquet is a segment dimension).
/// </summary>
public abstract class PredictionFileReader : IAsyncDisposable
{
    /// <summary>Names of the fixed fields; in CSV and Parquet every other column is a segment dimension.</summary>
    public static readonly string[] FieldNames = ["predictionId", "model", "version", "predicted", "actual", "score", "timestamp"];

    /// <summary>Fills <paramref name="block"/> with the next rows; false at the end of the file.</summary>
    public abstract ValueTask<bool> ReadAsync(RowBlock block, CancellationToken cancellationToken);

    /// <summary>Moves past the first <paramref name="records"/> records (for a resumed replay).</summary>
    public virtual async ValueTask SkipAsync(long records, CancellationToken cancellationToken)
    {
        var left = records;
        while (left > 0)
        {
            var limited = new RowBlock((int)Math.Min(left, RowBlock.DefaultCapacity));
            if (!await ReadAsync(limited, cancellationToken).ConfigureAwait(false))
            {
                return;
            }

            left -= limited.Count;
        }
    }

    public abstract ValueTask DisposeAsync();

    public static PredictionFileFormat DetectFormat(string path, string? explicitFormat)
    {
        var name = explicitFormat ?? Path.GetExtension(path).TrimStart('.');
        return name.ToLowerInvariant() switch
        {
            "ndjson" or "jsonl" or "json" => PredictionFileFormat.Ndjson,
            "csv" => PredictionFileFormat.Csv,
            "parquet" => PredictionFileFormat.Parquet,
            _ => throw new FormatException($"cannot tell the format of '{path}' from its extension; use --input-format ndjson|csv|parquet"),
        };
    }

    public static async Task<PredictionFileReader> OpenAsync(string path, PredictionFileFormat format, bool keepDetails, CancellationToken cancellationToken)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"no such file: {path}", path);
        }

        return format switch
        {
            PredictionFileFormat.Ndjson => new NdjsonPredictionReader(OpenSequential(path), keepDetails),
            PredictionFileFormat.Csv => new CsvPredictionReader(OpenSequential(path), keepDetails),
            _ => await ParquetPredictionReader.OpenAsync(path, keepDetails, cancellationToken).ConfigureAwait(false),
        };
    }

    private static FileStream OpenSequential(string path) =>
        new(path, new FileStreamOptions { Mode = FileMode.Open, Access = FileAccess.Read, Share = FileShare.Read, BufferSize = 0, Options = FileOptions.SequentialScan });
}
