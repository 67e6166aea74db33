using System.Buffers;
using System.Collections.Immutable;
using System.Globalization;
using System.Text;
using ConfusionMatrix.Abstractions;

namespace ConfusionMatrix.Streaming.EventHubs.Tests;

/// <summary>
/// The one reader of the public prediction format: the same batch whatever the buffer boundaries, and the same
/// accepted and refused records whether they come as a JSON array, as NDJSON, or in an Event Hubs event.
/// </summary>
public sealed class PredictionJsonReaderTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 26, 10, 0, 0, TimeSpan.Zero);

    /// <summary>Good and bad records: escapes, numbers as labels, a multi-byte value, nested unknown fields, duplicates.</summary>
    private static readonly string[] Records =
    [
        """{"predictionId":"p1","model":"fraud","version":"v1","predicted":"fraud","actual":"legit","score":0.25,"timestamp":"2026-11-26T09:00:00Z","segments":{"region":"EU","channel":"web"}}""",
        """{"predictionId":"p2","model":"fraud","version":"v1","predicted":"legit","segments":{"region":"Zürich"},"extra":{"deep":[1,{"x":[2,3]}]}}""",
        """{"predictionId":"p3","model":"fraud","version":"v1","predicted":"fr\u0061ud","actual":"fraud","timestamp":"2026-11-26T09:30:00.1234567+01:00"}""",
        """{"predictionId":"p4","model":"fraud","version":"v1","predicted":"legit","actual":"\ud800"}""",
        """{"predictionId":"p5","model":"fraud","version":"v1","predicted":"legit","actual":"legit","score":1e400}""",
        """{"predictionId":"p6","model":"fraud","version":"v1","predicted":1,"actual":1,"segments":{"region":"US","flag":true,"n":7}}""",
        """[1,2]""",
        """{"predictionId":"","model":"fraud","version":"v1","predicted":"legit"}""",
        """{"predictionId":"p9","model":"fraud","version":"v1","predicted":"legit","timestamp":"1999-12-31T23:59:59Z"}""",
        """{"predictionId":"p10","model":"fraud","version":"v1","predicted":"legit","segments":{"region":"   "}}""",
        """{"predictionId":"p11","model":"fraud","version":"v1","predicted":"legit","actual":{}}""",
        """{"predictionId":"p12","model":"fraud","version":"v1","predicted":"legit","actual":"fraud","segments":{"region":"EU"},"segments":{"region":"US"}}""",
        """{"predictionId":"p13","model":"fraud","version":"v1","predicted":"legit","timestamp":"26 Nov 2026 09:00:00"}""",
    ];

    [Fact]
    public void ArraySplitAtEveryByteOffset_GivesTheSameBatch()
    {
        var body = Encoding.UTF8.GetBytes("[\n  " + string.Join(",\n  ", Records) + "\n]\n");
        var expected = Describe(ReadArray(new ReadOnlySequence<byte>(body), null));
        for (var split = 0; split <= body.Length; split++)
        {
            Assert.Equal(expected, Describe(ReadArray(new ReadOnlySequence<byte>(body), split)));
        }
    }

    [Fact]
    public void RecordSplitAcrossBufferSegments_ReadsAsWhenWhole()
    {
        var json = Encoding.UTF8.GetBytes(Records[1]);
        var reader = new PredictionJsonReader();
        var whole = Describe(reader, reader.Read(json, Now, Now));
        for (var split = 1; split < json.Length; split++)
        {
            var cutter = new JsonArrayCutter();
            var buffer = TwoSegments([.. "["u8, .. json, .. "]"u8], split + 1);
            Assert.True(cutter.TryTake(ref buffer, isFinalBlock: true, out var element));
            Assert.Equal(whole, Describe(reader, reader.Read(element.ToArray(), Now, Now)));
        }
    }

    [Fact]
    public void ArrayNdjsonAndEventHubs_AcceptAndRefuseTheSameRecords()
    {
        var array = ReadArray(new ReadOnlySequence<byte>(Encoding.UTF8.GetBytes("[" + string.Join(",", Records) + "]")), null);
        var ndjson = ReadNdjson(Encoding.UTF8.GetBytes(string.Join("\r\n", Records) + "\n"));
        Assert.Equal(Describe(array), Describe(ndjson));
        Assert.Equal(6, array.Batch.Count);
        Assert.Equal(
            new[] { RejectionReasons.BadTimestamp, RejectionReasons.EmptySegmentValue, RejectionReasons.Malformed, RejectionReasons.Malformed, RejectionReasons.Malformed, RejectionReasons.Malformed, RejectionReasons.MissingField }.Order(StringComparer.Ordinal),
            array.Rejected.Select(r => r.Reason).Order(StringComparer.Ordinal));

        foreach (var (body, contentType) in new[]
        {
            ("[" + string.Join(",", Records) + "]", "application/json"),
            (string.Join("\n", Records), "application/x-ndjson"),
        })
        {
            var parsed = PredictionEventParser.Parse(AdapterHarness.Event(body, enqueued: Now), "0", Now);
            Assert.Equal(Describe(array.Batch), Describe(parsed.Batch));
            Assert.Equal(
                array.Rejected.GroupBy(r => r.Reason).ToDictionary(g => g.Key, g => g.Count()).OrderBy(kv => kv.Key, StringComparer.Ordinal),
                parsed.RejectedByReason.OrderBy(kv => kv.Key, StringComparer.Ordinal));
        }
    }

    [Fact]
    public void Refusals_KeepTheirReasonsAndDetails()
    {
        var reader = new PredictionJsonReader();
        (string Reason, string Detail) Refusal(string json)
        {
            Assert.Equal(RecordOutcome.Rejected, reader.Read(Encoding.UTF8.GetBytes(json), Now, Now));
            return (reader.Problem.Reason, reader.Problem.Detail);
        }

        const string Head = "\"model\":\"fraud\",\"version\":\"v1\",\"predicted\":\"legit\"";
        Assert.Equal((RejectionReasons.MissingField, "'predictionId' is required"), Refusal("{" + Head + "}"));
        Assert.Equal((RejectionReasons.IdTooLong, "'predictionId' is 129 characters; at most 128 are allowed"), Refusal("{\"predictionId\":\"" + new string('x', 129) + "\"," + Head + "}"));
        Assert.Equal(RejectionReasons.BadName, Refusal("{\"predictionId\":\"a\",\"model\":\"a/b\",\"version\":\"v1\",\"predicted\":\"x\"}").Reason);
        Assert.Equal((RejectionReasons.Malformed, "a string is not valid Unicode (a lone surrogate escape such as \\ud800)"), Refusal("{\"predictionId\":\"a\\udc00\"," + Head + "}"));
        Assert.Equal((RejectionReasons.Malformed, "'segments' must be an object of dimension to value"), Refusal("{\"predictionId\":\"a\"," + Head + ",\"segments\":[]}"));
        Assert.Equal((RejectionReasons.BadName, "a segment dimension name must not be empty"), Refusal("{\"predictionId\":\"a\"," + Head + ",\"segments\":{\" \":\"x\"}}"));
        Assert.Equal((RejectionReasons.Malformed, "a prediction must be a JSON object"), Refusal("\"\\ud800\""));

        // A missing id is found before a bad segment value, as the rules have always been applied.
        Assert.Equal(RejectionReasons.MissingField, Refusal("{" + Head + ",\"segments\":{\"region\":\"\\ud800\"}}").Reason);

        // Invalid UTF-8 inside a string the reader reads is refused like a lone surrogate.
        var invalid = Encoding.UTF8.GetBytes("{\"predictionId\":\"a\"," + Head + ",\"segments\":{\"region\":\"E?\"}}");
        invalid[Array.IndexOf(invalid, (byte)'?')] = 0xFF;
        Assert.Equal(RecordOutcome.Rejected, reader.Read(invalid, Now, Now));
        Assert.Equal(RejectionReasons.Malformed, reader.Problem.Reason);

        Assert.Equal(RecordOutcome.NotJson, reader.Read("{\"predictionId\":\"a\"} trailing"u8, Now, Now));
        Assert.Equal(RecordOutcome.NotJson, reader.Read(Encoding.UTF8.GetBytes("{\"x\":" + new string('[', 100) + new string(']', 100) + "}"), Now, Now));
        Assert.Null(reader.RawModel);
    }

    [Theory]
    [InlineData("2026-11-26T10:00:00Z")]
    [InlineData("2026-11-26T10:00:00.5Z")]
    [InlineData("2026-11-26T10:00:00.1234567Z")]
    [InlineData("2026-11-26T10:00:00.12345678Z")]
    [InlineData("2026-11-26T10:00:00+05:30")]
    [InlineData("2026-11-26T10:00:00-14:00")]
    [InlineData("2026-02-29T10:00:00Z")]
    [InlineData("2028-02-29T10:00:00Z")]
    [InlineData("2026-11-26T24:00:00Z")]
    [InlineData("2026-11-26T10:00:60Z")]
    [InlineData("0001-01-01T00:00:00+01:00")]
    [InlineData("9999-12-31T23:59:59-01:00")]
    [InlineData("2026-11-26T10:00:00")]
    [InlineData("2026-11-26 10:00:00Z")]
    [InlineData("2026-11-26")]
    [InlineData("not a date")]
    public void TimestampsReadDirectly_AgreeWithTheGeneralParser(string text)
    {
        var general = DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var expected);
        Assert.Equal(general, PredictionJsonReader.TryParseTimestamp(text, out var actual));
        Assert.Equal(expected.UtcTicks, actual.UtcTicks);
    }

    [Fact]
    public void BatchBoundToADefinition_HasItsClassesAsLabels_AndSaysItWasChecked()
    {
        var definition = new ModelDefinition("fraud", ["legit", "fraud"], "fraud", ["region"], Now);
        var builder = new PredictionBatchBuilder(definition, "v1");
        builder.AddRow(1, 0, Now.UtcTicks, "p1", null);
        builder.AddSegment("region", "EU");
        builder.AddRow(PredictionBatch.NoActual, 1, Now.UtcTicks, "p2", 0.5);
        var batch = builder.Build("producer", 1);
        Assert.Null(batch.ValidateShape());
        Assert.Equal(new[] { "legit", "fraud" }, batch.Labels);
        Assert.Equal(Now, batch.ValidatedAgainst);
        Assert.True(batch.IsValidatedFor(definition.Classes));
        Assert.False(batch.IsValidatedFor(["fraud", "legit"]));
        Assert.False(new PredictionBatchBuilder("fraud", "v1").Build("producer", 2).IsValidatedFor(ImmutableArray<string>.Empty));
    }

    private sealed record Read(PredictionBatch Batch, List<(int Index, string Reason)> Rejected);

    /// <summary>Reads an array body through the cutter; with <paramref name="split"/>, as two reads at that byte offset.</summary>
    private static Read ReadArray(ReadOnlySequence<byte> body, int? split)
    {
        var cutter = new JsonArrayCutter();
        var sink = new Sink();
        var bytes = body.ToArray();
        var consumed = 0L;
        if (split is { } k)
        {
            // First only the bytes before the split have arrived; the rest comes as a second segment.
            var first = new ReadOnlySequence<byte>(bytes, 0, k);
            while (cutter.TryTake(ref first, isFinalBlock: false, out var element))
            {
                sink.Add(element);
            }

            Assert.Null(cutter.Error);
            consumed = k - first.Length;
        }

        var rest = split is { } s && s > consumed && s < bytes.Length
            ? TwoSegments(bytes[(int)consumed..], s - (int)consumed)
            : new ReadOnlySequence<byte>(bytes[(int)consumed..]);
        while (cutter.TryTake(ref rest, isFinalBlock: true, out var element))
        {
            sink.Add(element);
        }

        Assert.Null(cutter.Error);
        Assert.True(cutter.Completed);
        return sink.Result();
    }

    private static Read ReadNdjson(byte[] body)
    {
        var sink = new Sink();
        foreach (var line in Encoding.UTF8.GetString(body).Split('\n'))
        {
            if (!string.IsNullOrWhiteSpace(line))
            {
                sink.Add(new ReadOnlySequence<byte>(Encoding.UTF8.GetBytes(line)));
            }
            else
            {
                sink.Index++;
            }
        }

        return sink.Result();
    }

    private static ReadOnlySequence<byte> TwoSegments(byte[] bytes, int split)
    {
        var first = new Segment(bytes.AsMemory(0, split), 0);
        var second = first.Append(bytes.AsMemory(split));
        return new ReadOnlySequence<byte>(first, 0, second, second.Memory.Length);
    }

    private static string Describe(Read read) => Describe(read.Batch) + "|" + string.Join(";", read.Rejected);

    private static string Describe(PredictionBatch b) =>
        string.Join(
            "\n",
            Enumerable.Range(0, b.Count).Select(i =>
                $"{(b.Actual[i] == PredictionBatch.NoActual ? "-" : b.Labels[b.Actual[i]])} {b.Labels[b.Predicted[i]]} {b.TimestampUtcTicks[i]} {b.PredictionIds?[i]} {(b.Scores is null ? "" : b.Scores[i].ToString(CultureInfo.InvariantCulture))} "
                + string.Join(",", Enumerable.Range(0, b.Dimensions.Length).Where(d => b.SegmentValueIndex[(i * b.Dimensions.Length) + d] >= 0).Select(d => $"{b.Dimensions[d]}={b.SegmentValues[b.SegmentValueIndex[(i * b.Dimensions.Length) + d]]}"))));

    private static string Describe(PredictionJsonReader r, RecordOutcome outcome) => outcome switch
    {
        RecordOutcome.Valid => $"{r.PredictionId} {r.Model} {r.Version} {r.Predicted} {(r.HasActual ? r.Actual : "-")} {r.Timestamp:O} {r.Score} "
            + string.Join(",", Enumerable.Range(0, r.SegmentCount).Select(i => $"{r.SegmentDimension(i)}={r.SegmentValue(i)}")),
        RecordOutcome.Rejected => $"{r.Problem}",
        _ => $"not JSON: {r.JsonError}",
    };

    /// <summary>Reads records into one batch as the Event Hubs adapter does (labels in order of first sight).</summary>
    private sealed class Sink
    {
        private readonly PredictionJsonReader _reader = new();
        private readonly PredictionBatchBuilder _builder = new("fraud", "v1");
        private readonly List<(int, string)> _rejected = [];

        public int Index { get; set; }

        public void Add(ReadOnlySequence<byte> element)
        {
            var r = _reader;
            switch (r.Read(element.ToArray(), Now, Now))
            {
                case RecordOutcome.Valid:
                    var actual = r.HasActual ? _builder.LabelIndex(r.Actual) : PredictionBatch.NoActual;
                    _builder.AddRow(actual, _builder.LabelIndex(r.Predicted), r.Timestamp.UtcTicks, new string(r.PredictionId), r.Score);
                    for (var i = 0; i < r.SegmentCount; i++)
                    {
                        _builder.AddSegment(r.SegmentDimension(i), r.SegmentValue(i));
                    }

                    break;
                case RecordOutcome.Rejected:
                    _rejected.Add((Index, r.Problem.Reason));
                    break;
                default:
                    _rejected.Add((Index, RejectionReasons.Malformed));
                    break;
            }

            Index++;
        }

        public Read Result() => new(_builder.Build("test", 1), _rejected);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}
