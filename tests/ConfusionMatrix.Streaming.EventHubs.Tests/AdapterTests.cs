using System.Text;
using Azure.Messaging.EventHubs;
using ConfusionMatrix.Abstractions;
using Orleans.Streaming.EventHubs;
using static ConfusionMatrix.Streaming.EventHubs.Tests.AdapterHarness;

namespace ConfusionMatrix.Streaming.EventHubs.Tests;

public sealed class AdapterTests : IDisposable
{
    private const string Ts = "2026-11-26T09:59:00Z";
    private readonly AdapterHarness _h = new();

    public void Dispose() => _h.Dispose();

    private static string Record(string id, string actual, string predicted, string version = "v1", string model = "fraud", string? region = null, string timestamp = Ts) =>
        $$"""{"predictionId":"{{id}}","model":"{{model}}","version":"{{version}}","predicted":"{{predicted}}","actual":"{{actual}}","score":0.5,"timestamp":"{{timestamp}}"{{(region is null ? "" : $$""","segments":{"region":"{{region}}"}""")}}}""";

    private static (string Actual, string Predicted, string? Region)[] Rows(PredictionBatch b)
    {
        var region = b.Dimensions.IndexOf("region");
        return Enumerable.Range(0, b.Count).Select(i =>
        {
            var v = region < 0 ? PredictionBatch.NoSegmentValue : b.SegmentValueIndex[(i * b.Dimensions.Length) + region];
            return (b.Labels[b.Actual[i]], b.Labels[b.Predicted[i]], v == PredictionBatch.NoSegmentValue ? null : b.SegmentValues[v]);
        }).ToArray();
    }

    [Fact]
    public void JsonArray_BecomesOneBatchOnTheVersionStream_NumberedByPartitionAndSequence()
    {
        var body = $"[{Record("a", "fraud", "fraud", region: "EU")},{Record("b", "legit", "fraud", region: "US")},{Record("c", "legit", "legit")}]";
        var (container, cached) = _h.Deliver(Event(body, sequenceNumber: 42, contentType: "application/json"), partition: "3");

        Assert.Equal(StreamId.Create(PredictionLog.StreamNamespace, "fraud/v1"), container.StreamId);
        var batch = Assert.Single(container.GetEvents<PredictionBatch>()).Item1;
        Assert.Equal(("fraud", "v1", "eventhubs:3", 42L), (batch.Model, batch.Version, batch.ProducerId, batch.Sequence));
        Assert.Equal("eventhubs:3:42", batch.BatchId);
        Assert.Null(batch.ValidateShape());
        Assert.Equal([("fraud", "fraud", "EU"), ("legit", "fraud", "US"), ("legit", "legit", null)], Rows(batch));
        Assert.All(batch.TimestampUtcTicks, t => Assert.Equal(DateTimeOffset.Parse(Ts).UtcTicks, t));

        var token = Assert.IsType<EventHubSequenceTokenV2>(container.SequenceToken);
        Assert.Equal((42L, "4200"), (token.SequenceNumber, token.EventHubOffset));
        Assert.Equal("4200", _h.Adapter.GetOffset(cached));
        Assert.Empty(_h.Rejected);
        Assert.Empty(_h.Logger.Lines);
    }

    [Theory]
    [InlineData("application/x-ndjson")]
    [InlineData(null)]
    public void Ndjson_IsReadLineByLine_DeclaredOrSniffed(string? contentType)
    {
        var body = $"{Record("a", "fraud", "legit", region: "EU")}\r\n\n{Record("b", "legit", "legit", region: "EU")}\n{Record("c", "fraud", "fraud")}\n";
        var (container, _) = _h.Deliver(Event(body, sequenceNumber: 7, contentType: contentType), partition: "0");

        var batch = Assert.Single(container.GetEvents<PredictionBatch>()).Item1;
        Assert.Equal(StreamId.Create(PredictionLog.StreamNamespace, "fraud/v1"), container.StreamId);
        Assert.Equal(("eventhubs:0", 7L), (batch.ProducerId, batch.Sequence));
        Assert.Equal([("fraud", "legit", "EU"), ("legit", "legit", "EU"), ("fraud", "fraud", null)], Rows(batch));
        Assert.Empty(_h.Rejected);
    }

    [Fact]
    public void SingleObjectBody_SpreadOverLines_IsOneRecord()
    {
        var body = "{\n  \"predictionId\": \"p\",\n  \"model\": \"fraud\",\n  \"version\": \"v1\",\n  \"predicted\": \"fraud\",\n  \"actual\": \"fraud\"\n}";
        var (container, _) = _h.Deliver(Event(body, contentType: "application/json"));

        var batch = Assert.Single(container.GetEvents<PredictionBatch>()).Item1;
        Assert.Equal([("fraud", "fraud", null)], Rows(batch));

        // No timestamp: the prediction happened when its event was enqueued, so a replay yields the same batch.
        Assert.Equal(Enqueued.UtcTicks, Assert.Single(batch.TimestampUtcTicks));
    }

    [Fact]
    public void ApplicationProperties_NameTheStream_AndOtherVersionsAreLeftOutAndCounted()
    {
        var body = $"[{Record("a", "fraud", "fraud", version: "v1")},{Record("b", "legit", "fraud", version: "v2")},{Record("c", "legit", "legit", version: "v2")}]";
        var (container, _) = _h.Deliver(Event(body, properties: Names("fraud", "v2")));

        Assert.Equal(StreamId.Create(PredictionLog.StreamNamespace, "fraud/v2"), container.StreamId);
        var batch = Assert.Single(container.GetEvents<PredictionBatch>()).Item1;
        Assert.Equal(("fraud", "v2"), (batch.Model, batch.Version));
        Assert.Equal([("legit", "fraud", null), ("legit", "legit", null)], Rows(batch));
        Assert.Equal(1, _h.Rejected[EventHubRejectionReasons.MixedVersion]);
        var line = Assert.Single(_h.Logger.Lines);
        Assert.Contains("record 0: mixed_version", line);
        Assert.Contains("2 records kept, 1 left out", line);
    }

    [Fact]
    public void WithoutProperties_TheFirstRecordNamesTheStream_AndOtherModelsOrVersionsAreLeftOut()
    {
        var body = $"[{Record("a", "fraud", "fraud", version: "v3")},{Record("b", "legit", "fraud", version: "v1")},{Record("c", "x", "y", model: "churn", version: "v3")},{Record("d", "legit", "legit", version: "v3")}]";
        var (container, _) = _h.Deliver(Event(body));

        Assert.Equal(StreamId.Create(PredictionLog.StreamNamespace, "fraud/v3"), container.StreamId);
        var batch = Assert.Single(container.GetEvents<PredictionBatch>()).Item1;
        Assert.Equal([("fraud", "fraud", null), ("legit", "legit", null)], Rows(batch));
        Assert.Equal(2, _h.Rejected[EventHubRejectionReasons.MixedVersion]);
    }

    [Fact]
    public void InvalidRecords_AreLeftOutAndCountedByReason_TheRestIsKept()
    {
        var longId = new string('x', PredictionLimits.MaxIdLength + 1);
        var records = new[]
        {
            "42",
            """{"model":"fraud","version":"v1","predicted":"fraud","actual":"fraud"}""",
            """{"predictionId":"m","model":"fraud","version":"v1","actual":"fraud"}""",
            Record("t1", "fraud", "fraud", timestamp: "yesterday"),
            Record("t2", "fraud", "fraud", timestamp: "1970-01-01T00:00:00Z"),
            Record("t3", "fraud", "fraud", timestamp: "2026-11-27T10:00:00Z"),
            Record(longId, "fraud", "fraud"),
            Record("s1", "fraud", "fraud", region: ""),
            """{"predictionId":"s2","model":"fraud","version":"v1","predicted":"fraud","actual":"fraud","segments":["EU"]}""",
            """{"predictionId":"n","model":"fr/aud","version":"v1","predicted":"fraud","actual":"fraud"}""",
            Record("ok", "legit", "fraud", region: "EU"),
        };
        var (container, _) = _h.Deliver(Event($"[{string.Join(",", records)}]", properties: Names("fraud", "v1")));

        var batch = Assert.Single(container.GetEvents<PredictionBatch>()).Item1;
        Assert.Equal([("legit", "fraud", "EU")], Rows(batch));
        Assert.Equal(
            new Dictionary<string, long>
            {
                [RejectionReasons.Malformed] = 2,
                [RejectionReasons.MissingField] = 2,
                [RejectionReasons.BadTimestamp] = 3,
                [RejectionReasons.IdTooLong] = 1,
                [RejectionReasons.EmptySegmentValue] = 1,
                [RejectionReasons.BadName] = 1,
            },
            _h.Rejected.OrderBy(r => r.Key).ToDictionary());
        var line = Assert.Single(_h.Logger.Lines);
        Assert.StartsWith("Warning:", line);
        Assert.Contains("1 records kept, 10 left out", line);
        Assert.Contains("record 0: malformed", line);
    }

    [Theory]
    [InlineData("this is not JSON at all")]
    [InlineData("[{\"predictionId\": \"a\", truncated")]
    [InlineData("")]
    [InlineData("\u0001\u0002binary")]
    public void NonJsonBody_GivesAnEmptyBatch_CountedOnceAsMalformed(string body)
    {
        var (container, _) = _h.Deliver(Event(body, sequenceNumber: 9, properties: Names("fraud", "v1")));

        // The version's own stream gets an empty batch: it never throws and never stops the partition.
        Assert.Equal(StreamId.Create(PredictionLog.StreamNamespace, "fraud/v1"), container.StreamId);
        var batch = Assert.Single(container.GetEvents<PredictionBatch>()).Item1;
        Assert.Equal((0, "eventhubs:3", 9L), (batch.Count, batch.ProducerId, batch.Sequence));
        Assert.Null(batch.ValidateShape());
        Assert.Equal(new Dictionary<string, long> { [RejectionReasons.Malformed] = 1 }, _h.Rejected.ToDictionary());
        Assert.Contains("0 records kept, 1 left out", Assert.Single(_h.Logger.Lines));
    }

    [Fact]
    public void NonJsonBody_WithoutNames_GoesToTheUnroutableNamespace()
    {
        var (container, _) = _h.Deliver(Event("<xml>nope</xml>"), partition: "5");

        Assert.Equal(StreamId.Create(PredictionLogEventHubDataAdapter.UnroutableNamespace, "5"), container.StreamId);
        Assert.Equal(0, Assert.Single(container.GetEvents<PredictionBatch>()).Item1.Count);
        Assert.Equal(1, _h.Rejected[RejectionReasons.Malformed]);
    }

    [Fact]
    public void NdjsonLineThatIsNotJson_IsCountedAndTheOtherLinesAreKept()
    {
        var body = $"{Record("a", "fraud", "fraud")}\n{{not json\n{Record("b", "legit", "legit")}";
        var (container, _) = _h.Deliver(Event(body, contentType: "application/x-ndjson"));

        Assert.Equal([("fraud", "fraud", null), ("legit", "legit", null)], Rows(Assert.Single(container.GetEvents<PredictionBatch>()).Item1));
        Assert.Equal(new Dictionary<string, long> { [RejectionReasons.Malformed] = 1 }, _h.Rejected.ToDictionary());
        Assert.Contains("record 1: malformed", Assert.Single(_h.Logger.Lines));
    }

    [Fact]
    public void ReplayedEvent_YieldsTheSameBatchIdAndContent()
    {
        var body = $"[{Record("a", "fraud", "fraud", region: "EU")},{Record("b", "legit", "fraud")}]";
        var first = Assert.Single(_h.Deliver(Event(body, sequenceNumber: 1234), partition: "2").Container.GetEvents<PredictionBatch>()).Item1;
        var replay = Assert.Single(_h.Deliver(Event(body, sequenceNumber: 1234), partition: "2").Container.GetEvents<PredictionBatch>()).Item1;

        Assert.Equal("eventhubs:2:1234", first.BatchId);
        Assert.Equal(first.BatchId, replay.BatchId);
        Assert.Equal(Rows(first), Rows(replay));
        Assert.Equal(first.TimestampUtcTicks, replay.TimestampUtcTicks);
    }

    [Fact]
    public void BatchPublishedThroughOrleans_IsWrittenAsRawNdjson_AndReadBackTheSame()
    {
        var builder = new PredictionBatchBuilder("fraud", "v1");
        builder.Add("fraud", "legit", Enqueued.AddSeconds(-30), [new("region", "EU"), new("channel", "web")]);
        builder.Add("legit", "legit", Enqueued.AddSeconds(-20), [new("channel", "app")]);
        builder.Add("legit", "fraud", Enqueued.AddSeconds(-10));
        var published = builder.Build("http-1", 5);
        var streamId = StreamId.Create(PredictionLog.StreamNamespace, "fraud/v1");

        var written = _h.Adapter.ToQueueMessage(streamId, [published], null, null);
        Assert.Equal("application/x-ndjson", written.ContentType);
        Assert.Equal("fraud/v1", _h.Adapter.GetPartitionKey(streamId));
        var lines = Encoding.UTF8.GetString(written.EventBody.ToArray()).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(3, lines.Length);
        Assert.Contains("\"predictionId\":\"http-1:5:0\"", lines[0]);

        // What the hub hands back: the same body and properties, now with broker-assigned partition and sequence.
        var received = EventHubsModelFactory.EventData(written.EventBody, written.Properties, null, "fraud/v1", 77, "7700", Enqueued);
        received.ContentType = written.ContentType;
        var batch = Assert.Single(_h.Deliver(received, partition: "1").Container.GetEvents<PredictionBatch>()).Item1;

        Assert.Equal(("eventhubs:1", 77L), (batch.ProducerId, batch.Sequence));
        Assert.Equal(published.TimestampUtcTicks, batch.TimestampUtcTicks);
        string Describe(PredictionBatch b, int i) => $"{b.Labels[b.Actual[i]]}>{b.Labels[b.Predicted[i]]}|" + string.Join(",",
            Enumerable.Range(0, b.Dimensions.Length)
                .Where(d => b.SegmentValueIndex[(i * b.Dimensions.Length) + d] != PredictionBatch.NoSegmentValue)
                .Select(d => $"{b.Dimensions[d]}={b.SegmentValues[b.SegmentValueIndex[(i * b.Dimensions.Length) + d]]}")
                .Order());
        Assert.Equal(
            Enumerable.Range(0, published.Count).Select(i => Describe(published, i)),
            Enumerable.Range(0, batch.Count).Select(i => Describe(batch, i)));
        Assert.Empty(_h.Rejected);
    }
}
