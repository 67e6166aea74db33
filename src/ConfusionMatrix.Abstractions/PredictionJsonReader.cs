using System.Globalization;
using System.Text.Json;

namespace ConfusionMatrix.Abstractions;

/// <summary>What reading one JSON value (an array element, an NDJSON line, an event body) as a prediction gave.</summary>
public enum RecordOutcome
{
    /// <summary>A prediction that passed every check; its fields are on the reader until the next read.</summary>
    Valid,

    /// <summary>Valid JSON, but not an acceptable prediction: see <see cref="PredictionJsonReader.Problem"/>.</summary>
    Rejected,

    /// <summary>Not JSON at all (or not UTF-8 JSON): see <see cref="PredictionJsonReader.JsonError"/>.</summary>
    NotJson,
}

/// <summary>
/// Reads one prediction in the public JSON format (<c>{"predictionId","model","version","predicted","actual","score",
/// "timestamp","segments"}</c>) forward-only from its UTF-8 bytes with <see cref="Utf8JsonReader"/>, and applies
/// <see cref="PredictionRules"/> exactly as every entry point does: HTTP JSON arrays, HTTP NDJSON, and Event Hubs
/// events all read through here, so a prediction is accepted or refused, for the same reason, wherever it arrives.
/// Property names are compared as UTF-8; the text fields are unescaped and decoded into one reused character buffer
/// (exactly what <see cref="Utf8JsonReader.GetString"/> would accept), so a valid record allocates nothing here and
/// the batch builder can dictionary-encode its names from those characters. One instance per request or event; not
/// thread-safe.
/// </summary>
public sealed class PredictionJsonReader
{
    private const string NotUnicode = "a string is not valid Unicode (a lone surrogate escape such as \\ud800)";

    private static readonly JsonReaderOptions Options = new() { MaxDepth = 64 };

    private readonly List<(Field Name, Field Value)> _segments = [];
    private char[] _chars = new char[1024];
    private int _used;
    private Field _id;
    private Field _model;
    private Field _version;
    private Field _predicted;
    private Field _actual;
    private Field _timestamp;
    private Field _score;
    private Field _segmentsField;
    private double _scoreValue;
    private bool _scoreRead;

    /// <summary>The refusal of the last record read, when it was <see cref="RecordOutcome.Rejected"/>.</summary>
    public RecordProblem Problem { get; private set; }

    /// <summary>Why the last value was not JSON, when it was <see cref="RecordOutcome.NotJson"/>.</summary>
    public string JsonError { get; private set; } = "";

    public ReadOnlySpan<char> PredictionId => Chars(_id);

    public ReadOnlySpan<char> Model => Chars(_model);

    public ReadOnlySpan<char> Version => Chars(_version);

    public ReadOnlySpan<char> Predicted => Chars(_predicted);

    /// <summary>Whether the prediction carries its actual label; without it, it waits for the label on its id.</summary>
    public bool HasActual => _actual.HasText;

    public ReadOnlySpan<char> Actual => Chars(_actual);

    /// <summary>The prediction's time, or the default the read was given when it names none.</summary>
    public DateTimeOffset Timestamp { get; private set; }

    public double? Score { get; private set; }

    public int SegmentCount => _segments.Count;

    /// <summary>
    /// The prediction id as the caller wrote it, for naming a refused record: null when absent, empty, of another kind
    /// or not valid Unicode; shortened when too long to be an id.
    /// </summary>
    public string? ShownId => _id is { HasText: true, Invalid: false } ? Shorten(Chars(_id)) : null;

    /// <summary>The model name as the caller wrote it, or null (absent, empty, another kind, not valid Unicode).</summary>
    public string? RawModel => _model is { HasText: true, Invalid: false } ? new string(Chars(_model)) : null;

    /// <summary>The version as the caller wrote it, or null (absent, empty, another kind, not valid Unicode).</summary>
    public string? RawVersion => _version is { HasText: true, Invalid: false } ? new string(Chars(_version)) : null;

    public ReadOnlySpan<char> SegmentDimension(int i) => Chars(_segments[i].Name);

    public ReadOnlySpan<char> SegmentValue(int i) => Chars(_segments[i].Value);

    /// <summary>
    /// Reads and checks one complete JSON value. A record without a timestamp gets <paramref name="defaultTimestamp"/>;
    /// timestamps are checked against <paramref name="now"/>. Labels may be JSON strings or numbers (class "1" is
    /// written 1 by some producers). Never throws for any input.
    /// </summary>
    public RecordOutcome Read(ReadOnlySpan<byte> json, DateTimeOffset defaultTimestamp, DateTimeOffset now)
    {
        Reset();
        var isObject = false;
        try
        {
            var reader = new Utf8JsonReader(json, isFinalBlock: true, new JsonReaderState(Options));
            if (!reader.Read())
            {
                JsonError = "the value is empty";
                return RecordOutcome.NotJson;
            }

            if (reader.TokenType == JsonTokenType.StartObject)
            {
                isObject = true;
                ReadProperties(ref reader);
            }
            else
            {
                reader.Skip();
            }

            if (reader.Read())
            {
                // More after the value: "{...} trailing" is not one JSON value.
                throw new JsonException($"'{(char)json[(int)reader.TokenStartIndex]}' after the end of the value. BytePositionInLine: {reader.TokenStartIndex}.");
            }
        }
        catch (JsonException ex)
        {
            // Nothing of a value that is not JSON is read: no fields half set.
            Reset();
            JsonError = ex.Message;
            return RecordOutcome.NotJson;
        }

        if (!isObject)
        {
            return Reject(RejectionReasons.Malformed, "a prediction must be a JSON object");
        }

        return Check(defaultTimestamp, now);
    }

    private RecordOutcome Check(DateTimeOffset defaultTimestamp, DateTimeOffset now)
    {
        // The text fields are all read before any is checked, so a field that is not valid Unicode refuses the record first.
        if (_id.Invalid || _model.Invalid || _version.Invalid || _predicted.Invalid || _actual.Invalid)
        {
            return Reject(RejectionReasons.Malformed, NotUnicode);
        }

        if ((CheckId() ?? CheckFields()) is { } problem)
        {
            return Reject(problem);
        }

        Timestamp = defaultTimestamp;
        if (_timestamp.Present && _timestamp.Kind != JsonTokenType.Null)
        {
            if (_timestamp.Invalid)
            {
                return Reject(RejectionReasons.Malformed, NotUnicode);
            }

            if (_timestamp.Kind != JsonTokenType.String || !TryParseTimestamp(Chars(_timestamp), out var timestamp))
            {
                return Reject(RejectionReasons.BadTimestamp, "'timestamp' must be an ISO-8601 date-time string such as 2026-11-26T10:00:00Z");
            }

            if (PredictionRules.CheckTimestamp(timestamp, now) is { } late)
            {
                return Reject(late);
            }

            Timestamp = timestamp;
        }

        if (_score.Present && _score.Kind != JsonTokenType.Null)
        {
            if (_score.Kind != JsonTokenType.Number || !_scoreRead)
            {
                return Reject(RejectionReasons.Malformed, "'score' must be a number");
            }

            // 1e400 reads as infinity: a score must be finite.
            if (PredictionRules.CheckScore(_scoreValue) is { } notFinite)
            {
                return Reject(notFinite);
            }

            Score = _scoreValue;
        }

        if (_segmentsField.Present && _segmentsField.Kind != JsonTokenType.Null)
        {
            if (_segmentsField.Kind != JsonTokenType.StartObject)
            {
                return Reject(RejectionReasons.Malformed, "'segments' must be an object of dimension to value");
            }

            foreach (var (name, value) in _segments)
            {
                if (value.Invalid || name.Invalid)
                {
                    return Reject(RejectionReasons.Malformed, NotUnicode);
                }

                if (CheckSegment(Chars(name), value.HasText ? Chars(value) : default, value.HasText) is { } bad)
                {
                    return Reject(bad);
                }
            }
        }

        if (!_actual.HasText && _actual.Present && _actual.Kind != JsonTokenType.Null)
        {
            // Present but not a label (an object, an empty string…): a mistake, not a prediction awaiting its label.
            return Reject(RejectionReasons.Malformed, "'actual' must be a class name (string or number), or absent/null when the label comes later");
        }

        return RecordOutcome.Valid;
    }

    /// <summary>The same rule as <see cref="PredictionRules.CheckId"/>, on characters.</summary>
    private RecordProblem? CheckId()
    {
        if (!_id.HasText)
        {
            return new(RejectionReasons.MissingField, "'predictionId' is required");
        }

        return _id.Length > PredictionLimits.MaxIdLength
            ? new(RejectionReasons.IdTooLong, $"'predictionId' is {_id.Length} characters; at most {PredictionLimits.MaxIdLength} are allowed")
            : null;
    }

    /// <summary>The same rule as <see cref="PredictionRules.CheckFields"/>, on characters.</summary>
    private RecordProblem? CheckFields()
    {
        var missing = !_model.HasText ? "model" : !_version.HasText ? "version" : !_predicted.HasText ? "predicted" : null;
        if (missing is not null)
        {
            return new(RejectionReasons.MissingField, $"'{missing}' is required");
        }

        return IsValidName(Chars(_model)) && IsValidName(Chars(_version))
            ? null
            : new(RejectionReasons.BadName, $"'model' and 'version' must be 1..{PredictionLimits.MaxNameLength} characters without '/' or '='");
    }

    /// <summary>The same rule as <see cref="PredictionLimits.IsValidName"/>, on characters.</summary>
    private static bool IsValidName(ReadOnlySpan<char> name) =>
        !name.IsWhiteSpace() && name.Length <= PredictionLimits.MaxNameLength && !name.Contains('/') && !name.Contains('=');

    /// <summary>The same rule as <see cref="PredictionRules.CheckSegment"/>, on characters (a null value is one of another JSON kind).</summary>
    private static RecordProblem? CheckSegment(ReadOnlySpan<char> dimension, ReadOnlySpan<char> value, bool hasValue)
    {
        if (dimension.IsWhiteSpace())
        {
            return new(RejectionReasons.BadName, "a segment dimension name must not be empty");
        }

        return !hasValue || value.IsWhiteSpace() || value.Length > PredictionLimits.MaxSegmentValueLength
            ? new(RejectionReasons.EmptySegmentValue, $"segment '{dimension}' needs a non-empty value of at most {PredictionLimits.MaxSegmentValueLength} characters")
            : null;
    }

    private void ReadProperties(ref Utf8JsonReader reader)
    {
        // A property named twice counts with its last value, as JsonElement.TryGetProperty reads it.
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("predictionId"u8))
            {
                reader.Read();
                _id = Text(ref reader);
            }
            else if (reader.ValueTextEquals("model"u8))
            {
                reader.Read();
                _model = Text(ref reader);
            }
            else if (reader.ValueTextEquals("version"u8))
            {
                reader.Read();
                _version = Text(ref reader);
            }
            else if (reader.ValueTextEquals("predicted"u8))
            {
                reader.Read();
                _predicted = Text(ref reader);
            }
            else if (reader.ValueTextEquals("actual"u8))
            {
                reader.Read();
                _actual = Text(ref reader);
            }
            else if (reader.ValueTextEquals("timestamp"u8))
            {
                reader.Read();
                _timestamp = reader.TokenType == JsonTokenType.String ? Text(ref reader) : Other(ref reader);
            }
            else if (reader.ValueTextEquals("score"u8))
            {
                reader.Read();
                _scoreRead = reader.TokenType == JsonTokenType.Number && reader.TryGetDouble(out _scoreValue);
                _score = Other(ref reader);
            }
            else if (reader.ValueTextEquals("segments"u8))
            {
                reader.Read();
                _segments.Clear();
                _segmentsField = new Field(Present: true, reader.TokenType, HasText: false, Invalid: false, 0, 0);
                if (reader.TokenType == JsonTokenType.StartObject)
                {
                    ReadSegments(ref reader);
                }
                else
                {
                    reader.Skip();
                }
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }
    }

    private void ReadSegments(ref Utf8JsonReader reader)
    {
        // Every pair is kept, in order, and each is checked; a dimension named twice ends with its last value.
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var name = Text(ref reader);
            reader.Read();
            var value = reader.TokenType is JsonTokenType.String or JsonTokenType.Number or JsonTokenType.True or JsonTokenType.False
                ? Text(ref reader, literals: true)
                : Other(ref reader);
            _segments.Add((name, value));
        }
    }

    /// <summary>
    /// A string (unescaped) or number (its raw text), and with <paramref name="literals"/> true/false, as characters in
    /// the buffer, else the kind alone: what <see cref="PredictionRecordReader.Text"/> reads. Invalid when the string
    /// is not valid Unicode.
    /// </summary>
    private Field Text(ref Utf8JsonReader reader, bool literals = false)
    {
        var kind = reader.TokenType;
        if (kind is not (JsonTokenType.String or JsonTokenType.PropertyName or JsonTokenType.Number)
            && !(literals && kind is JsonTokenType.True or JsonTokenType.False))
        {
            return Other(ref reader);
        }

        // Always a span: the reader is given one contiguous value.
        var raw = reader.ValueSpan;
        Reserve(raw.Length);
        int written;
        if (kind is JsonTokenType.String or JsonTokenType.PropertyName)
        {
            try
            {
                // CopyString unescapes and transcodes exactly as GetString does, and throws where GetString throws.
                written = reader.CopyString(_chars.AsSpan(_used));
            }
            catch (InvalidOperationException)
            {
                return new Field(Present: true, kind, HasText: true, Invalid: true, 0, 0);
            }
        }
        else
        {
            // Numbers and literals are ASCII: their raw text is their text.
            written = System.Text.Encoding.ASCII.GetChars(raw, _chars.AsSpan(_used));
        }

        var field = new Field(Present: true, kind, HasText: written > 0, Invalid: false, _used, written);
        _used += written;
        return field;
    }

    private static Field Other(ref Utf8JsonReader reader)
    {
        var kind = reader.TokenType;
        reader.Skip();
        return new Field(Present: true, kind, HasText: false, Invalid: false, 0, 0);
    }

    private void Reserve(int length)
    {
        // A character per byte is enough: UTF-8 never takes fewer bytes than UTF-16 takes characters.
        if (_used + length > _chars.Length)
        {
            Array.Resize(ref _chars, Math.Max(_chars.Length * 2, _used + length));
        }
    }

    private ReadOnlySpan<char> Chars(Field f) => f.HasText && !f.Invalid ? _chars.AsSpan(f.Start, f.Length) : default;

    private void Reset()
    {
        _used = 0;
        _id = _model = _version = _predicted = _actual = _timestamp = _score = _segmentsField = default;
        _segments.Clear();
        _scoreRead = false;
        Score = null;
        Problem = default;
        JsonError = "";
        if (_chars.Length > 64 * 1024)
        {
            // One huge record must not pin its buffer for the rest of the request.
            _chars = new char[1024];
        }
    }

    private RecordOutcome Reject(string reason, string detail) => Reject(new RecordProblem(reason, detail));

    private RecordOutcome Reject(RecordProblem problem)
    {
        Problem = problem;
        return RecordOutcome.Rejected;
    }

    private static string Shorten(ReadOnlySpan<char> id) =>
        id.Length > PredictionLimits.MaxIdLength ? string.Concat(id[..32], "…") : new string(id);

    /// <summary>
    /// ISO-8601 as producers write it (<c>2026-11-26T10:00:00.123Z</c>, or with an offset) is read directly; anything
    /// else goes through <see cref="DateTimeOffset.TryParse(ReadOnlySpan{char}, IFormatProvider, DateTimeStyles, out DateTimeOffset)"/>
    /// with the rules every entry point has always used, so the direct path only ever agrees with it.
    /// </summary>
    public static bool TryParseTimestamp(ReadOnlySpan<char> s, out DateTimeOffset timestamp)
    {
        if (TryParseIso(s, out timestamp))
        {
            return true;
        }

        return DateTimeOffset.TryParse(s, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out timestamp);
    }

    /// <summary><c>yyyy-MM-ddTHH:mm:ss[.f{1,7}](Z|±HH:mm)</c> only; false for anything else, to be parsed the general way.</summary>
    private static bool TryParseIso(ReadOnlySpan<char> s, out DateTimeOffset timestamp)
    {
        timestamp = default;
        if (s.Length < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':'
            || !Digits(s, 0, 4, out var year) || !Digits(s, 5, 2, out var month) || !Digits(s, 8, 2, out var day)
            || !Digits(s, 11, 2, out var hour) || !Digits(s, 14, 2, out var minute) || !Digits(s, 17, 2, out var second)
            || year < 1 || month is < 1 or > 12 || day < 1 || day > DateTime.DaysInMonth(year, month) || hour > 23 || minute > 59 || second > 59)
        {
            return false;
        }

        var i = 19;
        long fraction = 0;
        if (s[i] == '.')
        {
            var start = ++i;
            while (i < s.Length && char.IsAsciiDigit(s[i]))
            {
                fraction = (fraction * 10) + (s[i++] - '0');
            }

            var digits = i - start;
            if (digits is < 1 or > 7)
            {
                return false;
            }

            for (var d = digits; d < 7; d++)
            {
                fraction *= 10;
            }
        }

        long offsetTicks;
        if (i == s.Length - 1 && s[i] == 'Z')
        {
            offsetTicks = 0;
        }
        else if (i == s.Length - 6 && s[i] is '+' or '-' && s[i + 3] == ':' && Digits(s, i + 1, 2, out var oh) && Digits(s, i + 4, 2, out var om) && oh <= 14 && om <= 59)
        {
            offsetTicks = ((oh * 60L) + om) * TimeSpan.TicksPerMinute * (s[i] == '-' ? -1 : 1);
            if (Math.Abs(offsetTicks) > TimeSpan.FromHours(14).Ticks)
            {
                return false;
            }
        }
        else
        {
            return false;
        }

        var local = new DateTime(year, month, day, hour, minute, second, DateTimeKind.Unspecified).Ticks + fraction;
        var utc = local - offsetTicks;
        if (utc < DateTime.MinValue.Ticks || utc > DateTime.MaxValue.Ticks || local > DateTime.MaxValue.Ticks)
        {
            return false;
        }

        timestamp = new DateTimeOffset(utc, TimeSpan.Zero);
        return true;
    }

    private static bool Digits(ReadOnlySpan<char> s, int start, int count, out int value)
    {
        value = 0;
        for (var i = start; i < start + count; i++)
        {
            if (!char.IsAsciiDigit(s[i]))
            {
                return false;
            }

            value = (value * 10) + (s[i] - '0');
        }

        return true;
    }

    /// <summary>One property as read: its JSON kind and, for text, where its characters are in the buffer.</summary>
    private readonly record struct Field(bool Present, JsonTokenType Kind, bool HasText, bool Invalid, int Start, int Length);
}
