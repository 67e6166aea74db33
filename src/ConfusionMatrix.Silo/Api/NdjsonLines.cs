using System.Buffers;
using System.IO.Pipelines;
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

    /// <summary>
    /// Hands every line of the body to <paramref name="add"/> in order (the last one even without a newline), reading
    /// the bytes as they arrive; <c>first</c> is true for the first line only, where a byte-order mark may stand.
    /// </summary>
    public static async Task ReadAllAsync(PipeReader reader, Func<ReadOnlySequence<byte>, bool, ValueTask> add, CancellationToken cancellationToken)
    {
        var first = true;
        while (true)
        {
            var result = await reader.ReadAsync(cancellationToken);
            var buffer = result.Buffer;
            while (TryTake(ref buffer, out var line))
            {
                await add(line, first);
                first = false;
            }

            if (result.IsCompleted)
            {
                if (!buffer.IsEmpty)
                {
                    await add(buffer, first);
                }

                reader.AdvanceTo(buffer.End);
                return;
            }

            reader.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    /// <summary>
    /// Reads one line as a prediction straight from its bytes; a line that is not JSON is refused on its own. The
    /// model's registration is looked up only the first time the request names it.
    /// </summary>
    public static async ValueTask AddAsync(PredictionIntake.Session session, ReadOnlySequence<byte> line, bool first)
    {
        line = Trim(line, first);
        if (IsBlank(line))
        {
            session.Blank();
            return;
        }

        while (session.TryAdd(line, line: true) is { } model)
        {
            await session.LoadDefinitionAsync(model);
        }
    }

    /// <summary>Reads one line as a <see cref="JsonDocument"/> for a session of label records.</summary>
    public static async Task AddAsync(IRecordSession session, ReadOnlySequence<byte> line, bool first)
    {
        line = Trim(line, first);
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

    /// <summary>The line without a byte-order mark (first line only) and without the CR of a CRLF.</summary>
    private static ReadOnlySequence<byte> Trim(ReadOnlySequence<byte> line, bool first)
    {
        if (first && line.Length >= 3 && StartsWithBom(line))
        {
            line = line.Slice(3);
        }

        if (line.Length > 0 && line.Slice(line.Length - 1).FirstSpan[0] == (byte)'\r')
        {
            line = line.Slice(0, line.Length - 1);
        }

        return line;
    }

    /// <summary>Whether the body starts with a UTF-8 byte-order mark.</summary>
    public static bool StartsWithBom(ReadOnlySequence<byte> body)
    {
        Span<byte> head = stackalloc byte[3];
        if (body.Length < 3)
        {
            return false;
        }

        body.Slice(0, 3).CopyTo(head);
        return head.SequenceEqual(Utf8Bom);
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
