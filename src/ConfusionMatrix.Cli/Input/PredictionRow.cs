namespace ConfusionMatrix.Cli.Input;

/// <summary>
/// One record of a prediction file, in the silo's prediction format. Repeated strings (model, version, class names,
/// segment dimensions and values) are interned per reader, so a file of millions of rows allocates them once.
/// </summary>
public struct PredictionRow
{
    /// <summary>0-based position of the record in the file (line or row), for resumable replays and error messages.</summary>
    public long Position;

    public string? PredictionId;

    public string? Model;

    public string? Version;

    public string? Predicted;

    public string? Actual;

    public DateTimeOffset? Timestamp;

    public double? Score;

    /// <summary>Where this row's segments start in <see cref="RowBlock.Segments"/>.</summary>
    public int SegmentStart;

    public int SegmentCount;

    /// <summary>Why the record cannot be used (malformed JSON, a missing field…); null when it is readable.</summary>
    public string? Error;
}

/// <summary>A block of rows read together; reused by the reader, so consume it before asking for the next.</summary>
public sealed class RowBlock
{
    public const int DefaultCapacity = 4096;

    public RowBlock(int capacity = DefaultCapacity)
    {
        Rows = new PredictionRow[capacity];
    }

    public PredictionRow[] Rows { get; }

    public int Count { get; internal set; }

    /// <summary>(dimension, value) pairs of every row of the block; a row's pairs are contiguous.</summary>
    public List<KeyValuePair<string, string>> Segments { get; } = new(DefaultCapacity * 2);

    public bool IsFull => Count == Rows.Length;

    public ReadOnlySpan<KeyValuePair<string, string>> SegmentsOf(in PredictionRow row) =>
        System.Runtime.InteropServices.CollectionsMarshal.AsSpan(Segments).Slice(row.SegmentStart, row.SegmentCount);

    internal void Clear()
    {
        Count = 0;
        Segments.Clear();
    }

    internal ref PredictionRow Next(long position)
    {
        ref var row = ref Rows[Count++];
        row = default;
        row.Position = position;
        row.SegmentStart = Segments.Count;
        return ref row;
    }
}

/// <summary>Interns short strings from UTF-8 or UTF-16 text without allocating on a hit.</summary>
internal sealed class StringPool
{
    private const int MaxPooledLength = 256;
    private readonly HashSet<string> _strings = new(StringComparer.Ordinal);
    private readonly HashSet<string>.AlternateLookup<ReadOnlySpan<char>> _lookup;
    private char[] _chars = new char[MaxPooledLength];

    public StringPool()
    {
        _lookup = _strings.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    public string Get(ReadOnlySpan<char> text)
    {
        if (_lookup.TryGetValue(text, out var found))
        {
            return found;
        }

        var s = text.ToString();
        if (text.Length <= MaxPooledLength && _strings.Count < 1_000_000)
        {
            _strings.Add(s);
        }

        return s;
    }

    public string Get(ReadOnlySpan<byte> utf8)
    {
        if (utf8.Length > MaxPooledLength)
        {
            return System.Text.Encoding.UTF8.GetString(utf8);
        }

        var n = System.Text.Encoding.UTF8.GetChars(utf8, _chars);
        return Get(_chars.AsSpan(0, n));
    }
}
