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
        var documents = new List<(int Index, JsonDocument Document)>();
        try
        {
            var records = ReadRecords(eventData, rejections, documents);
            var model = PropertyText(eventData, ModelProperty);
            var version = PropertyText(eventData, VersionProperty);
            if (model is null || version is null)
            {
                foreach (var (_, record) in records)
                {
                    if (record.ValueKind == JsonValueKind.Object && PredictionRecordReader.TextOrNull(record, "model") is { } m && PredictionRecordReader.TextOrNull(record, "version") is { } v)
                    {
                        model ??= m;
                        version ??= v;
                        break;
                    }
                }
            }

            var routable = PredictionLimits.IsValidName(model) && PredictionLimits.IsValidName(version);
            var builder = new PredictionBatchBuilder(routable ? model! : "", routable ? version! : "");

            // A record without a timestamp happened when its event was enqueued: that time is part of the event, so a
            // replayed event yields the same batch.
            var enqueued = eventData.EnqueuedTime >= PredictionLimits.MinTimestamp ? eventData.EnqueuedTime : now;
            var labels = new HashSet<string>(StringComparer.Ordinal);
            foreach (var (index, record) in records)
            {
                var problem = Validate(record, model, version, routable, enqueued, out var row);
                if (problem is null && labels.Count + 2 > PredictionLimits.MaxClasses && !((row.Actual is null || labels.Contains(row.Actual)) && labels.Contains(row.Predicted)))
                {
                    // The batch dictionary-encodes labels; no registered model has more classes than this.
                    problem = (RejectionReasons.UnknownClass, $"the event names more than {PredictionLimits.MaxClasses} distinct classes");
                }

                if (problem is { } p)
                {
                    rejections.Add(p.Reason, index, p.Detail);
                }
                else
                {
                    if (row.Actual is not null)
                    {
                        labels.Add(row.Actual);
                    }

                    labels.Add(row.Predicted);
                    builder.Add(row.Actual, row.Predicted, row.Timestamp, row.Segments, row.PredictionId, row.Score);
                }
            }

            var streamId = routable
                ? StreamId.Create(PredictionLog.StreamNamespace, PredictionLog.VersionKey(model!, version!))
                : StreamId.Create(PredictionLogEventHubDataAdapter.UnroutableNamespace, partition);
            var batch = builder.Build(PredictionLogEventHubDataAdapter.ProducerIdFor(partition), eventData.SequenceNumber);
            return new ParsedEvent(streamId, batch, rejections.ByReason, rejections.First);
        }
        finally
        {
            foreach (var (_, document) in documents)
            {
                document.Dispose();
            }
        }
    }

    private static List<(int Index, JsonElement Record)> ReadRecords(EventData eventData, RejectionTally rejections, List<(int, JsonDocument)> documents)
    {
        var records = new List<(int, JsonElement)>();
        ReadOnlyMemory<byte> body;
        try
        {
            body = eventData.EventBody.ToMemory();
        }
        catch (Exception ex) when (ex is InvalidOperationException or NotSupportedException)
        {
            // AMQP bodies that are not data sections (value or sequence bodies) are not ours to read.
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
            if (!TryParse(body, out var array))
            {
                rejections.Add(RejectionReasons.Malformed, 0, "the event body starts with '[' but is not a JSON array");
                return records;
            }

            documents.Add((0, array));
            var i = 0;
            foreach (var element in array.RootElement.EnumerateArray())
            {
                records.Add((i++, element));
            }

            return records;
        }

        if (!declaredNdjson && body.Span[first] == (byte)'{' && TryParse(body, out var single))
        {
            // One object, possibly spread over several lines: a one-record body.
            documents.Add((0, single));
            records.Add((0, single.RootElement));
            return records;
        }

        if (!declaredNdjson && body.Span[first] != (byte)'{')
        {
            rejections.Add(RejectionReasons.Malformed, 0, "the event body is neither a JSON array nor NDJSON");
            return records;
        }

        var line = 0;
        var rest = body;
        while (!rest.IsEmpty)
        {
            var end = rest.Span.IndexOf((byte)'\n');
            var current = end < 0 ? rest : rest[..end];
            rest = end < 0 ? ReadOnlyMemory<byte>.Empty : rest[(end + 1)..];
            if (FirstNonWhitespace(current.Span) >= 0)
            {
                if (TryParse(current, out var document))
                {
                    documents.Add((line, document));
                    records.Add((line, document.RootElement));
                }
                else
                {
                    rejections.Add(RejectionReasons.Malformed, line, "the line is not valid JSON");
                }
            }

            line++;
        }

        return records;
    }

    private static (string Reason, string Detail)? Validate(JsonElement e, string? eventModel, string? eventVersion, bool routable, DateTimeOffset enqueued, out Row row)
    {
        row = default;
        if (PredictionRecordReader.TryRead(e, enqueued, enqueued, out var record) is { } problem)
        {
            return (problem.Reason, problem.Detail);
        }

        if (!routable)
        {
            return (RejectionReasons.BadName, $"the event names no usable model and version (prediction {record!.PredictionId})");
        }

        if (!string.Equals(record!.Model, eventModel, StringComparison.Ordinal) || !string.Equals(record.Version, eventVersion, StringComparison.Ordinal))
        {
            return (EventHubRejectionReasons.MixedVersion, $"prediction {record.PredictionId} names {record.Model}/{record.Version} but the event carries {eventModel}/{eventVersion}");
        }

        row = new Row(record.Actual, record.Predicted, record.Timestamp, record.Segments, record.PredictionId, record.Score);
        return null;
    }

    private static bool TryParse(ReadOnlyMemory<byte> json, out JsonDocument document)
    {
        try
        {
            document = JsonDocument.Parse(json);
            return true;
        }
        catch (JsonException)
        {
            document = null!;
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

    /// <summary>One valid record; a null actual waits for its label, joined on the prediction id.</summary>
    private readonly record struct Row(string? Actual, string Predicted, DateTimeOffset Timestamp, IReadOnlyList<KeyValuePair<string, string>>? Segments, string PredictionId, double? Score);

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
