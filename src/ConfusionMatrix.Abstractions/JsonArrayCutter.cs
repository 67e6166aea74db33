using System.Buffers;
using System.Text.Json;

namespace ConfusionMatrix.Abstractions;

/// <summary>
/// Cuts a JSON array into its elements as its bytes arrive, forward-only, carrying the reader state across buffers:
/// each element comes out whole (its bytes, ready for <see cref="PredictionJsonReader"/>) as soon as it is complete.
/// The whole array is checked as JSON on the way: a body that is not one JSON array ends in <see cref="Error"/>.
/// </summary>
public sealed class JsonArrayCutter
{
    private static readonly JsonReaderOptions Options = new() { MaxDepth = 64 };

    private JsonReaderState _state = new(Options);
    private bool _started;
    private bool _ended;

    /// <summary>Why the body is not a JSON array (invalid JSON, another kind of value, cut short), or null.</summary>
    public string? Error { get; private set; }

    /// <summary>The body is valid JSON but not an array.</summary>
    public bool NotAnArray { get; private set; }

    /// <summary>The array was closed and nothing but whitespace followed it.</summary>
    public bool Completed { get; private set; }

    /// <summary>
    /// Takes the next complete element off the front of <paramref name="buffer"/>. False when more bytes are needed,
    /// when the array is complete (<see cref="Completed"/>), or when the body is not a JSON array (<see cref="Error"/>);
    /// <paramref name="buffer"/> then starts at the first byte still to be read.
    /// </summary>
    public bool TryTake(ref ReadOnlySequence<byte> buffer, bool isFinalBlock, out ReadOnlySequence<byte> element)
    {
        element = default;
        if (Error is not null || Completed)
        {
            return false;
        }

        try
        {
            var reader = new Utf8JsonReader(buffer, isFinalBlock, _state);
            if (!_started)
            {
                if (!reader.Read())
                {
                    return Incomplete(isFinalBlock, "the body is empty");
                }

                if (reader.TokenType != JsonTokenType.StartArray)
                {
                    NotAnArray = true;
                    Error = "the body is not a JSON array";
                    return false;
                }

                _started = true;
                Advance(ref buffer, ref reader);
                reader = new Utf8JsonReader(buffer, isFinalBlock, _state);
            }

            if (!_ended)
            {
                if (!reader.Read())
                {
                    return Incomplete(isFinalBlock, "the array is not closed");
                }

                if (reader.TokenType != JsonTokenType.EndArray)
                {
                    var start = reader.TokenStartIndex;
                    if (reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray && !reader.TrySkip())
                    {
                        // Not all of it is here yet: start again from before it when more has arrived.
                        return Incomplete(isFinalBlock, "the array is not closed");
                    }

                    element = buffer.Slice(start, reader.Position);
                    Advance(ref buffer, ref reader);
                    return true;
                }

                _ended = true;
                Advance(ref buffer, ref reader);
                reader = new Utf8JsonReader(buffer, isFinalBlock, _state);
            }

            // After the array only whitespace may follow; anything else throws.
            if (!reader.Read() && isFinalBlock)
            {
                Completed = true;
            }

            return false;
        }
        catch (JsonException ex)
        {
            Error = ex.Message;
            return false;
        }
    }

    private bool Incomplete(bool isFinalBlock, string error)
    {
        if (isFinalBlock)
        {
            Error = error;
        }

        return false;
    }

    private void Advance(ref ReadOnlySequence<byte> buffer, ref Utf8JsonReader reader)
    {
        buffer = buffer.Slice(reader.Position);
        _state = reader.CurrentState;
    }
}
