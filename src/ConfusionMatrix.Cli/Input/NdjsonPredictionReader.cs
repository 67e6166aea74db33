using System.Buffers;
using System.Globalization;
using System.Text.Json;

namespace ConfusionMatrix.Cli.Input;

/// <summary>
/// NDJSON, one prediction object per line, parsed with <see cref="Utf8JsonReader"/> straight from a pooled byte buffer:
/// memory stays at the buffer size (grown only for a line longer than it) whatever the file size.
/// </summary>
internal sealed class NdjsonPredictionReader(Stream stream, bool keepDetails) : PredictionFileReader
{
    private const int BufferSize = 1 << 20;

    private readonly StringPool _pool = new();
    private byte[] _buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
    private int _start;
    private int _end;
    private bool _eof;
    private long _line;

    public override async ValueTask<bool> ReadAsync(RowBlock block, CancellationToken cancellationToken)
    {
        block.Clear();
        while (!block.IsFull)
        {
            var newline = Array.IndexOf(_buffer, (byte)'\n', _start, _end - _start);
            if (newline < 0)
            {
                if (_eof)
                {
                    if (_start < _end)
                    {
                        ParseLine(block, _buffer.AsSpan(_start, _end - _start));
                        _start = _end;
                    }

                    break;
                }

                await FillAsync(cancellationToken).ConfigureAwait(false);
                continue;
            }

            ParseLine(block, _buffer.AsSpan(_start, newline - _start));
            _start = newline + 1;
        }

        return block.Count > 0;
    }

    public override ValueTask DisposeAsync()
    {
        ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = [];
        return stream.DisposeAsync();
    }

    private async ValueTask FillAsync(CancellationToken cancellationToken)
    {
        if (_start > 0)
        {
            Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
            _end -= _start;
            _start = 0;
        }

        if (_end == _buffer.Length)
        {
            // One line longer than the buffer: grow for it.
            var bigger = ArrayPool<byte>.Shared.Rent(_buffer.Length * 2);
            Buffer.BlockCopy(_buffer, 0, bigger, 0, _end);
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = bigger;
        }

        var read = await stream.ReadAsync(_buffer.AsMemory(_end), cancellationToken).ConfigureAwait(false);
        if (read == 0)
        {
            _eof = true;
        }

        _end += read;
    }

    private void ParseLine(RowBlock block, ReadOnlySpan<byte> line)
    {
        var position = _line++;
        if (line.Length > 0 && line[^1] == (byte)'\r')
        {
            line = line[..^1];
        }

        if (line.IsEmpty || line.IndexOfAnyExcept((byte)' ', (byte)'\t') < 0)
        {
            _line--;
            return;
        }

        ref var row = ref block.Next(position);
        try
        {
            Parse(block, ref row, line);
        }
        catch (JsonException ex)
        {
            block.Segments.RemoveRange(row.SegmentStart, block.Segments.Count - row.SegmentStart);
            row.SegmentCount = 0;
            row.Error = $"line {position + 1} is not valid JSON: {ex.Message}";
        }
        catch (FormatException ex)
        {
            row.Error = $"line {position + 1}: {ex.Message}";
        }
    }

    private void Parse(RowBlock block, ref PredictionRow row, ReadOnlySpan<byte> line)
    {
        var reader = new Utf8JsonReader(line, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Skip });
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
        {
            throw new FormatException("a line must be one JSON object");
        }

        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("predicted"u8))
            {
                row.Predicted = ReadString(ref reader, "predicted", intern: true);
            }
            else if (reader.ValueTextEquals("actual"u8))
            {
                row.Actual = ReadString(ref reader, "actual", intern: true);
            }
            else if (reader.ValueTextEquals("model"u8))
            {
                row.Model = ReadString(ref reader, "model", intern: true);
            }
            else if (reader.ValueTextEquals("version"u8))
            {
                row.Version = ReadString(ref reader, "version", intern: true);
            }
            else if (reader.ValueTextEquals("segments"u8))
            {
                ReadSegments(block, ref row, ref reader);
            }
            else if (keepDetails && reader.ValueTextEquals("predictionId"u8))
            {
                row.PredictionId = ReadString(ref reader, "predictionId", intern: false);
            }
            else if (keepDetails && reader.ValueTextEquals("timestamp"u8))
            {
                var text = ReadString(ref reader, "timestamp", intern: false);
                if (text is not null)
                {
                    row.Timestamp = DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var ts)
                        ? ts
                        : throw new FormatException($"'timestamp' '{text}' is not an ISO 8601 time");
                }
            }
            else if (keepDetails && reader.ValueTextEquals("score"u8))
            {
                reader.Read();
                if (reader.TokenType == JsonTokenType.Number)
                {
                    row.Score = reader.GetDouble();
                }
                else if (reader.TokenType != JsonTokenType.Null)
                {
                    throw new FormatException("'score' must be a number");
                }
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }

        if (reader.TokenType != JsonTokenType.EndObject)
        {
            throw new JsonException("unexpected content after the object's fields");
        }
    }

    private void ReadSegments(RowBlock block, ref PredictionRow row, ref Utf8JsonReader reader)
    {
        reader.Read();
        if (reader.TokenType == JsonTokenType.Null)
        {
            return;
        }

        if (reader.TokenType != JsonTokenType.StartObject)
        {
            throw new FormatException("'segments' must be an object of dimension to value");
        }

        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var dimension = Intern(ref reader);
            var value = ReadString(ref reader, "segments." + dimension, intern: true)
                ?? throw new FormatException($"segment '{dimension}' must be a string");
            block.Segments.Add(new(dimension, value));
            row.SegmentCount++;
        }
    }

    private string? ReadString(ref Utf8JsonReader reader, string field, bool intern)
    {
        reader.Read();
        return reader.TokenType switch
        {
            JsonTokenType.String => intern ? Intern(ref reader) : reader.GetString(),
            JsonTokenType.Null => null,

            // Integer class labels (0/1) are common; they name the class by their JSON text.
            JsonTokenType.Number => _pool.Get(reader.ValueSpan),
            _ => throw new FormatException($"'{field}' must be a string"),
        };
    }

    private string Intern(ref Utf8JsonReader reader) =>
        reader.ValueIsEscaped || reader.HasValueSequence ? _pool.Get(reader.GetString().AsSpan()) : _pool.Get(reader.ValueSpan);
}
