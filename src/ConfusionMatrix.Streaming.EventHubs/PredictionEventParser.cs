using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Azure.Messaging.EventHubs;
using ConfusionMatrix.Abstractions;

namespace ConfusionMatrix.Streaming.EventHubs;

/// <summary>One Event Hubs event turned into a prediction batch, with what was left out of it and why.</summary>
internal sealed record ParsedEvent(
    StreamId StreamId,
    PredictionBatch Batch,
    IReadOnlyDictionary<string, int> RejectedByReason,
    string? FirstProblem)
{
    public int RejectedCount => RejectedByReason.Values.Sum();
}

/// <summary>
/// Reads the body of a raw Event Hubs event (a JSON array of predictions, or NDJSON, in the HTTP API's format) into one
/// <see cref="PredictionBatch"/>. Pure: no logging, no metrics, never throws for any body.
/// </summary>
internal static class PredictionEventParser
{
    public const string ModelProperty = "model";
    public const string VersionProperty = "version";
    public const string JsonContentType = "application/json";
    public const string NdjsonContentType = "application/x-ndjson";

    private static ReadOnlySpan<byte> Utf8Bom => [0xEF, 0xBB, 0xBF];

    public static ParsedEvent Parse(EventData eventData, string partition, DateTimeOffset now)
    {
        var rejections = new RejectionTally();
        var records = ReadRecords(eventData, rejections, out var body);
        var reader = new PredictionJsonReader();

        // A record without a timestamp happened when its event was enqueued: that time is part of the event, so a
        // replayed event yields the same batch.
        var enqueued = eventData.EnqueuedTime >= PredictionLimits.MinTimestamp ? eventData.EnqueuedTime : now;
        var model = PropertyText(eventData, ModelProperty);
        var version = PropertyText(eventData, VersionProperty);
        if (model is null || version is null)
        {
            foreach (var (_, start, length) in records)
            {
                reader.Read(body.Span.Slice(start, length), enqueued, enqueued);
                if (reader.RawModel is { } m && reader.RawVersion is { } v)
                {
                    model ??= m;
                    version ??= v;
                    break;
                }
            }
        }

        var routable = PredictionLimits.IsValidName(model) && PredictionLimits.IsValidName(version);
        var builder = new PredictionBatchBuilder(routable ? model! : "", routable ? version! : "");
        foreach (var (index, start, length) in records)
        {
            var span = body.Span.Slice(start, length);
            if (Validate(reader, span, model, version, routable, enqueued, builder) is { } p)
            {
                rejections.Add(p.Reason, index, p.Detail);
                continue;
            }

            var actual = reader.HasActual ? builder.LabelIndex(reader.Actual) : PredictionBatch.NoActual;
            builder.AddRow(actual, builder.LabelIndex(reader.Predicted), reader.Timestamp.UtcTicks, new string(reader.PredictionId), reader.Score);
            for (var i = 0; i < reader.SegmentCount; i++)
            {
                builder.AddSegment(reader.SegmentDimension(i), reader.SegmentValue(i));
            }
        }

        var streamId = routable
            ? StreamId.Create(PredictionLog.StreamNamespace, PredictionLog.VersionKey(model!, version!))
            : StreamId.Create(PredictionLogEventHubDataAdapter.UnroutableNamespace, partition);
        var batch = builder.Build(PredictionLogEventHubDataAdapter.ProducerIdFor(partition), eventData.SequenceNumber);
        return new ParsedEvent(streamId, batch, rejections.ByReason, rejections.First);
    }

    /// <summary>
    /// Where the event's records are in its body: array elements (the whole array checked as JSON first, so a broken
    /// array gives no records), one object, or NDJSON lines (indexes are line numbers; blank lines count).
    /// </summary>
    private static List<(int Index, int Start, int Length)> ReadRecords(EventData eventData, RejectionTally rejections, out ReadOnlyMemory<byte> body)
    {
        var records = new List<(int, int, int)>();
        try
        {
            body = eventData.EventBody.ToMemory();
        }
        catch (Exception ex) when (ex is InvalidOperationException or NotSupportedException)
        {
            // AMQP bodies that are not data sections (value or sequence bodies) are not ours to read.
            body = ReadOnlyMemory<byte>.Empty;
            rejections.Add(RejectionReasons.Malformed, 0, "the event body is not an AMQP data body");
            return records;
        }

        if (body.Span.StartsWith(Utf8Bom))
        {
            body = body[Utf8Bom.Length..];
        }

        var first = FirstNonWhitespace(body.Span);
        var declaredNdjson = eventData.ContentType is { } contentType
            && (contentType.Contains("ndjson", StringComparison.OrdinalIgnoreCase) || contentType.Contains("jsonl", StringComparison.OrdinalIgnoreCase) || contentType.Contains("json-lines", StringComparison.OrdinalIgnoreCase));
        if (first < 0)
        {
            rejections.Add(RejectionReasons.Malformed, 0, "the event body is empty");
            return records;
        }

        if (!declaredNdjson && body.Span[first] == (byte)'[')
        {
            var cutter = new JsonArrayCutter();
            var rest = new ReadOnlySequence<byte>(body);
            var whole = rest;
            var i = 0;
            while (cutter.TryTake(ref rest, isFinalBlock: true, out var element))
            {
                var start = (int)whole.Slice(0, element.Start).Length;
                records.Add((i++, start, (int)element.Length));
            }

            if (!cutter.Completed)
            {
                records.Clear();
                rejections.Add(RejectionReasons.Malformed, 0, "the event body starts with '[' but is not a JSON array");
            }

            return records;
        }

        if (!declaredNdjson && body.Span[first] == (byte)'{' && IsOneValue(body.Span))
        {
            // One object, possibly spread over several lines: a one-record body.
            records.Add((0, 0, body.Length));
            return records;
        }

        if (!declaredNdjson && body.Span[first] != (byte)'{')
        {
            rejections.Add(RejectionReasons.Malformed, 0, "the event body is neither a JSON array nor NDJSON");
            return records;
        }

        var line = 0;
        var offset = 0;
        var span = body.Span;
        while (offset < span.Length)
        {
            var end = span[offset..].IndexOf((byte)'\n');
            var length = end < 0 ? span.Length - offset : end;
            if (FirstNonWhitespace(span.Slice(offset, length)) >= 0)
            {
                records.Add((line, offset, length));
            }

            offset += length + 1;
            line++;
        }

        return records;
    }

    /// <summary>Reads one record and checks it against the event: null when it goes into the batch, else why not.</summary>
    private static (string Reason, string Detail)? Validate(PredictionJsonReader reader, ReadOnlySpan<byte> json, string? eventModel, string? eventVersion, bool routable, DateTimeOffset enqueued, PredictionBatchBuilder builder)
    {
        switch (reader.Read(json, enqueued, enqueued))
        {
            case RecordOutcome.NotJson:
                return (RejectionReasons.Malformed, "the line is not valid JSON");
            case RecordOutcome.Rejected:
                return (reader.Problem.Reason, reader.Problem.Detail);
        }

        if (!routable)
        {
            return (RejectionReasons.BadName, $"the event names no usable model and version (prediction {reader.PredictionId})");
        }

        if (!reader.Model.SequenceEqual(eventModel) || !reader.Version.SequenceEqual(eventVersion))
        {
            return (EventHubRejectionReasons.MixedVersion, $"prediction {reader.PredictionId} names {reader.Model}/{reader.Version} but the event carries {eventModel}/{eventVersion}");
        }

        // The batch dictionary-encodes labels; no registered model has more classes than this.
        if (builder.LabelCount + 2 > PredictionLimits.MaxClasses
            && !((!reader.HasActual || builder.FindLabel(reader.Actual) >= 0) && builder.FindLabel(reader.Predicted) >= 0))
        {
            return (RejectionReasons.UnknownClass, $"the event names more than {PredictionLimits.MaxClasses} distinct classes");
        }

        return null;
    }

    private static bool IsOneValue(ReadOnlySpan<byte> json)
    {
        try
        {
            var reader = new Utf8JsonReader(json);
            return reader.Read() && reader.TrySkip() && !reader.Read();
        }
        catch (JsonException)
        {
            return false;
        }
    }

    private static int FirstNonWhitespace(ReadOnlySpan<byte> span)
    {
        for (var i = 0; i < span.Length; i++)
        {
            if (span[i] is not ((byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n'))
            {
                return i;
            }
        }

        return -1;
    }

    private static string? PropertyText(EventData eventData, string name)
    {
        if (!eventData.Properties.TryGetValue(name, out var value) || value is null)
        {
            return null;
        }

        var text = value switch
        {
            string s => s,
            byte[] bytes => Encoding.UTF8.GetString(bytes),
            IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
            _ => value.ToString(),
        };
        return string.IsNullOrEmpty(text) ? null : text;
    }

    private sealed class RejectionTally
    {
        private readonly Dictionary<string, int> _byReason = new(StringComparer.Ordinal);

        public IReadOnlyDictionary<string, int> ByReason => _byReason;

        public string? First { get; private set; }

        public void Add(string reason, int index, string detail)
        {
            _byReason[reason] = _byReason.GetValueOrDefault(reason) + 1;
            First ??= $"record {index}: {reason}: {detail}";
        }
    }
}
