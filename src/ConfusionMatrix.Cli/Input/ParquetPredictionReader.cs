using System.Globalization;
using Parquet;
using Parquet.Schema;

namespace ConfusionMatrix.Cli.Input;

/// <summary>
/// Parquet, one row group in memory at a time (the writer's row group size bounds memory). Columns are named like the
/// CSV header; class columns may be strings or integers; every other column is a segment dimension.
/// </summary>
internal sealed class ParquetPredictionReader : PredictionFileReader
{
    private readonly Stream _stream;
    private readonly ParquetReader _reader;
    private readonly bool _keepDetails;
    private readonly DataField[] _fields;
    private readonly int[] _fieldOf;
    private readonly StringPool _pool = new();
    private int _group;
    private object?[][]? _columns;
    private int _rowInGroup;
    private int _groupRows;
    private long _record;

    private ParquetPredictionReader(Stream stream, ParquetReader reader, bool keepDetails)
    {
        _stream = stream;
        _reader = reader;
        _keepDetails = keepDetails;
        _fields = reader.Schema.GetDataFields();
        _fieldOf = [.. _fields.Select(f => Array.FindIndex(FieldNames, n => string.Equals(n, f.Name, StringComparison.OrdinalIgnoreCase)))];
        if (!_fieldOf.Contains(Array.IndexOf(FieldNames, "predicted")) || !_fieldOf.Contains(Array.IndexOf(FieldNames, "actual")))
        {
            throw new FormatException("the Parquet schema needs at least the columns 'predicted' and 'actual'");
        }
    }

    public static async Task<PredictionFileReader> OpenAsync(string path, bool keepDetails, CancellationToken cancellationToken)
    {
        var stream = File.OpenRead(path);
        try
        {
            var reader = await ParquetReader.CreateAsync(stream, cancellationToken: cancellationToken).ConfigureAwait(false);
            return new ParquetPredictionReader(stream, reader, keepDetails);
        }
        catch
        {
            await stream.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    public override async ValueTask<bool> ReadAsync(RowBlock block, CancellationToken cancellationToken)
    {
        block.Clear();
        while (!block.IsFull)
        {
            if (_columns is null || _rowInGroup == _groupRows)
            {
                if (_group == _reader.RowGroupCount)
                {
                    break;
                }

                await LoadGroupAsync(_group++, cancellationToken).ConfigureAwait(false);
                continue;
            }

            ref var row = ref block.Next(_record++);
            try
            {
                Fill(block, ref row, _rowInGroup);
            }
            catch (FormatException ex)
            {
                row.Error = $"row {row.Position + 1}: {ex.Message}";
            }

            _rowInGroup++;
        }

        return block.Count > 0;
    }

    public override async ValueTask DisposeAsync()
    {
        await _reader.DisposeAsync().ConfigureAwait(false);
        await _stream.DisposeAsync().ConfigureAwait(false);
    }

    private async Task LoadGroupAsync(int index, CancellationToken cancellationToken)
    {
        using var group = _reader.OpenRowGroupReader(index);
        var rows = checked((int)group.RowCount);
        var columns = new object?[_fields.Length][];
        for (var f = 0; f < _fields.Length; f++)
        {
            var wanted = _fieldOf[f] is not (0 or 5 or 6) || _keepDetails;
            columns[f] = wanted ? await ReadColumnAsync(group, _fields[f], rows, cancellationToken).ConfigureAwait(false) : [];
        }

        _columns = columns;
        _groupRows = rows;
        _rowInGroup = 0;
    }

    private static async Task<object?[]> ReadColumnAsync(ParquetRowGroupReader group, DataField field, int rows, CancellationToken cancellationToken)
    {
        var type = field.ClrType;
        if (type == typeof(string) || type == typeof(ReadOnlyMemory<char>))
        {
            var values = new string?[rows];
            await group.ReadAsync(field, values.AsMemory(), null, cancellationToken).ConfigureAwait(false);
            return values;
        }

        if (type == typeof(int))
        {
            return await ReadStructsAsync<int>(group, field, rows, cancellationToken).ConfigureAwait(false);
        }

        if (type == typeof(long))
        {
            return await ReadStructsAsync<long>(group, field, rows, cancellationToken).ConfigureAwait(false);
        }

        if (type == typeof(double))
        {
            return await ReadStructsAsync<double>(group, field, rows, cancellationToken).ConfigureAwait(false);
        }

        if (type == typeof(float))
        {
            return await ReadStructsAsync<float>(group, field, rows, cancellationToken).ConfigureAwait(false);
        }

        if (type == typeof(bool))
        {
            return await ReadStructsAsync<bool>(group, field, rows, cancellationToken).ConfigureAwait(false);
        }

        if (type == typeof(DateTime))
        {
            return await ReadStructsAsync<DateTime>(group, field, rows, cancellationToken).ConfigureAwait(false);
        }

        throw new FormatException($"Parquet column '{field.Name}' has type {type.Name}; use strings, integers, floats, booleans or timestamps");
    }

    private static async Task<object?[]> ReadStructsAsync<T>(ParquetRowGroupReader group, DataField field, int rows, CancellationToken cancellationToken)
        where T : struct
    {
        var result = new object?[rows];
        if (field.IsNullable)
        {
            var values = new T?[rows];
            await group.ReadAsync<T>(field, values.AsMemory(), null, cancellationToken).ConfigureAwait(false);
            for (var i = 0; i < rows; i++)
            {
                result[i] = values[i];
            }
        }
        else
        {
            var values = new T[rows];
            await group.ReadAsync<T>(field, values.AsMemory(), null, cancellationToken).ConfigureAwait(false);
            for (var i = 0; i < rows; i++)
            {
                result[i] = values[i];
            }
        }

        return result;
    }

    private void Fill(RowBlock block, ref PredictionRow row, int index)
    {
        for (var f = 0; f < _fields.Length; f++)
        {
            var column = _columns![f];
            if (column.Length == 0)
            {
                continue;
            }

            var value = column[index];
            switch (_fieldOf[f])
            {
                case 0:
                    row.PredictionId = value?.ToString();
                    break;
                case 1:
                    row.Model = Text(value);
                    break;
                case 2:
                    row.Version = Text(value);
                    break;
                case 3:
                    row.Predicted = Text(value);
                    break;
                case 4:
                    row.Actual = Text(value);
                    break;
                case 5:
                    row.Score = value is null ? null : Convert.ToDouble(value, CultureInfo.InvariantCulture);
                    break;
                case 6:
                    row.Timestamp = value switch
                    {
                        null => null,
                        DateTime dt => new DateTimeOffset(DateTime.SpecifyKind(dt, dt.Kind == DateTimeKind.Unspecified ? DateTimeKind.Utc : dt.Kind)),
                        string s when DateTimeOffset.TryParse(s, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var ts) => ts,
                        _ => throw new FormatException($"'timestamp' '{value}' is not a time"),
                    };
                    break;
                default:
                    if (Text(value) is { } segment)
                    {
                        block.Segments.Add(new(_pool.Get(_fields[f].Name.AsSpan()), segment));
                        row.SegmentCount++;
                    }

                    break;
            }
        }
    }

    private string? Text(object? value) => value switch
    {
        null => null,
        string { Length: 0 } => null,
        string s => _pool.Get(s.AsSpan()),
        bool b => b ? "true" : "false",
        IFormattable f => _pool.Get(f.ToString(null, CultureInfo.InvariantCulture).AsSpan()),
        _ => _pool.Get(value.ToString().AsSpan()),
    };
}
