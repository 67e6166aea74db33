using System.Buffers;
using System.Text.Json;

namespace ConfusionMatrix.Silo.Api;

/// <summary>Newline-delimited JSON read as bytes: one JSON value per line, blank lines skipped, CRLF accepted.</summary>
internal static class NdjsonLines
{
    private static ReadOnlySpan<byte> Utf8Bom => [0xEF, 0xBB, 0xBF];

    /// <summary>Takes the next complete line (without its newline) off the front of <paramref name="buffer"/>.</summary>
    public static bool TryTake(ref ReadOnlySequence<byte> buffer, out ReadOnlySequence<byte> line)
    {
        if (buffer.PositionOf((byte)'\n') is not { } end)
        {
            line = default;
            return false;
        }

        line = buffer.Slice(0, end);
        buffer = buffer.Slice(buffer.GetPosition(1, end));
        return true;
    }

    public static async Task AddAsync(IRecordSession session, ReadOnlySequence<byte> line, bool first)
    {
        if (first && line.Length >= 3 && line.Slice(0, 3).ToArray().AsSpan().SequenceEqual(Utf8Bom))
        {
            line = line.Slice(3);
        }

        if (line.Length > 0 && line.Slice(line.Length - 1).FirstSpan[0] == (byte)'\r')
        {
            line = line.Slice(0, line.Length - 1);
        }

        if (IsBlank(line))
        {
            session.Blank();
            return;
        }

        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(line);
        }
        catch (JsonException ex)
        {
            // Invalid UTF-8 is a JsonException too.
            session.Malformed($"line is not valid JSON: {ex.Message}");
            return;
        }

        using (doc)
        {
            await session.AddAsync(doc.RootElement);
        }
    }

    private static bool IsBlank(ReadOnlySequence<byte> line)
    {
        foreach (var segment in line)
        {
            foreach (var b in segment.Span)
            {
                if (b is not ((byte)' ' or (byte)'\t' or (byte)'\r'))
                {
                    return false;
                }
            }
        }

        return true;
    }
}
