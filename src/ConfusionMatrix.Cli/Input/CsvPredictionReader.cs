using System.Globalization;

namespace ConfusionMatrix.Cli.Input;

/// <summary>
/// CSV with a header row (RFC 4180 quoting within a line). Columns named like the prediction fields are those fields;
/// every other column is a segment dimension (a <c>segments.</c> prefix is dropped); an empty cell means "no value".
/// </summary>
internal sealed class CsvPredictionReader(Stream stream, bool keepDetails) : PredictionFileReader
{
    private readonly StreamReader _reader = new(stream, System.Text.Encoding.UTF8, detectEncodingFromByteOrderMarks: true, bufferSize: 1 << 16);
    private readonly StringPool _pool = new();
    private readonly List<string> _cells = [];
    private string[]? _header;
    private int[] _fieldOf = [];
    private long _record;

    public override async ValueTask<bool> ReadAsync(RowBlock block, CancellationToken cancellationToken)
    {
        block.Clear();
        if (_header is null && !await ReadHeaderAsync(cancellationToken).ConfigureAwait(false))
        {
            return false;
        }

        while (!block.IsFull && await _reader.ReadLineAsync(cancellationToken).ConfigureAwait(false) is { } line)
        {
            if (line.Length == 0)
            {
                continue;
            }

            ref var row = ref block.Next(_record++);
            if (!Split(line, _cells, out var error))
            {
                row.Error = $"record {row.Position + 1}: {error}";
                continue;
            }

            if (_cells.Count != _header!.Length)
            {
                row.Error = $"record {row.Position + 1} has {_cells.Count} cells, the header {_header.Length}";
                continue;
            }

            try
            {
                Fill(block, ref row);
            }
            catch (FormatException ex)
            {
                row.Error = $"record {row.Position + 1}: {ex.Message}";
            }
        }

        return block.Count > 0;
    }

    public override ValueTask DisposeAsync()
    {
        _reader.Dispose();
        return ValueTask.CompletedTask;
    }

    private async ValueTask<bool> ReadHeaderAsync(CancellationToken cancellationToken)
    {
        var line = await _reader.ReadLineAsync(cancellationToken).ConfigureAwait(false);
        if (line is null)
        {
            return false;
        }

        if (!Split(line, _cells, out var error))
        {
            throw new FormatException($"the CSV header is malformed: {error}");
        }

        _header = [.. _cells.Select(c => c.Trim())];
        _fieldOf = [.. _header.Select(h => Array.FindIndex(FieldNames, f => string.Equals(f, h, StringComparison.OrdinalIgnoreCase)))];
        for (var i = 0; i < _header.Length; i++)
        {
            if (_fieldOf[i] < 0 && _header[i].StartsWith("segments.", StringComparison.OrdinalIgnoreCase))
            {
                _header[i] = _header[i]["segments.".Length..];
            }
        }

        if (!_fieldOf.Contains(Array.IndexOf(FieldNames, "predicted")) || !_fieldOf.Contains(Array.IndexOf(FieldNames, "actual")))
        {
            throw new FormatException("the CSV header needs at least the columns 'predicted' and 'actual'");
        }

        return true;
    }

    private void Fill(RowBlock block, ref PredictionRow row)
    {
        for (var i = 0; i < _cells.Count; i++)
        {
            var cell = _cells[i];
            switch (_fieldOf[i])
            {
                case 0 when keepDetails:
                    row.PredictionId = cell.Length == 0 ? null : cell;
                    break;
                case 1:
                    row.Model = Intern(cell);
                    break;
                case 2:
                    row.Version = Intern(cell);
                    break;
                case 3:
                    row.Predicted = Intern(cell);
                    break;
                case 4:
                    row.Actual = Intern(cell);
                    break;
                case 5 when keepDetails && cell.Length > 0:
                    row.Score = double.TryParse(cell, NumberStyles.Float, CultureInfo.InvariantCulture, out var score)
                        ? score
                        : throw new FormatException($"'score' '{cell}' is not a number");
                    break;
                case 6 when keepDetails && cell.Length > 0:
                    row.Timestamp = DateTimeOffset.TryParse(cell, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var ts)
                        ? ts
                        : throw new FormatException($"'timestamp' '{cell}' is not an ISO 8601 time");
                    break;
                case -1 when cell.Length > 0:
                    block.Segments.Add(new(_header![i], _pool.Get(cell.AsSpan())));
                    row.SegmentCount++;
                    break;
            }
        }
    }

    private string? Intern(string cell) => cell.Length == 0 ? null : _pool.Get(cell.AsSpan());

    /// <summary>Splits one line; quoted cells may hold commas and doubled quotes.</summary>
    internal static bool Split(string line, List<string> cells, out string? error)
    {
        cells.Clear();
        error = null;
        var current = new System.Text.StringBuilder();
        var i = 0;
        while (true)
        {
            current.Clear();
            if (i < line.Length && line[i] == '"')
            {
                i++;
                while (true)
                {
                    if (i >= line.Length)
                    {
                        error = "a quoted cell is not closed (cells spanning lines are not supported)";
                        return false;
                    }

                    if (line[i] == '"')
                    {
                        if (i + 1 < line.Length && line[i + 1] == '"')
                        {
                            current.Append('"');
                            i += 2;
                            continue;
                        }

                        i++;
                        break;
                    }

                    current.Append(line[i++]);
                }

                if (i < line.Length && line[i] != ',')
                {
                    error = "text after a closing quote";
                    return false;
                }
            }
            else
            {
                var comma = line.IndexOf(',', i);
                var stop = comma < 0 ? line.Length : comma;
                current.Append(line, i, stop - i);
                i = stop;
            }

            cells.Add(current.ToString());
            if (i >= line.Length)
            {
                return true;
            }

            i++; // the comma
            if (i == line.Length)
            {
                cells.Add("");
                return true;
            }
        }
    }
}
