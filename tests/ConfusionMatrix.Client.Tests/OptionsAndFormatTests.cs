using System.Text.Json;
using Azure.Messaging.EventHubs;
using ConfusionMatrix.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using static ConfusionMatrix.Client.Tests.Support;

namespace ConfusionMatrix.Client.Tests;

public sealed class OptionsTests
{
    public static TheoryData<string, Action<PredictionLoggerOptions>> BadOptions() => new()
    {
        { nameof(PredictionLoggerOptions.BatchSize), o => o.BatchSize = 0 },
        { nameof(PredictionLoggerOptions.BatchInterval), o => o.BatchInterval = TimeSpan.Zero },
        { nameof(PredictionLoggerOptions.MaxBufferedPredictions), o => o.MaxBufferedPredictions = 0 },
        { nameof(PredictionLoggerOptions.MaxBufferedPredictions), o => { o.BatchSize = 100; o.MaxBufferedPredictions = 99; } },
        { nameof(PredictionLoggerOptions.RetryBaseDelay), o => o.RetryBaseDelay = TimeSpan.Zero },
        { nameof(PredictionLoggerOptions.RetryMaxDelay), o => o.RetryMaxDelay = TimeSpan.FromMilliseconds(1) },
        { nameof(PredictionLoggerOptions.DrainTimeout), o => o.DrainTimeout = TimeSpan.FromSeconds(-1) },
        { nameof(PredictionLoggerOptions.ServiceName), o => o.ServiceName = " " },
        { nameof(PredictionLoggerOptions.ProducerId), o => o.ProducerId = "" },
    };

    [Theory]
    [MemberData(nameof(BadOptions))]
    public void BadOption_FailsFast_NamingTheOption(string option, Action<PredictionLoggerOptions> spoil)
    {
        using var probe = new MetricsProbe();
        var ex = Assert.Throws<OptionsValidationException>(() => CreateLogger(new RecordingSink(), new FakeTimeProvider(Start), probe, spoil));
        Assert.Contains(option, ex.Message);
    }

    [Fact]
    public void Defaults_AreValid_AndMatchTheDocumentedValues()
    {
        var o = new PredictionLoggerOptions();
        Assert.True(new PredictionLoggerOptionsValidator().Validate(null, o).Succeeded);
        Assert.Equal(1000, o.BatchSize);
        Assert.Equal(TimeSpan.FromMilliseconds(200), o.BatchInterval);
        Assert.Equal(1_000_000, o.MaxBufferedPredictions);
        Assert.Equal(TimeSpan.FromSeconds(30), o.RetryMaxDelay);
    }
}

public sealed class SinkBatchTests
{
    [Fact]
    public void ToPredictionBatch_DictionaryEncodesTheBatch_Once()
    {
        var ts = Start.AddMinutes(-1);
        var batch = new SinkBatch("m", "v1", "prod-1", 7,
        [
            P(0, region: "EU") with { Timestamp = ts },
            P(1, region: "US") with { Timestamp = ts },
            P(2) with { Timestamp = ts, Segments = new Dictionary<string, string> { ["channel"] = "web" } },
        ]);

        var encoded = batch.ToPredictionBatch();

        Assert.Same(encoded, batch.ToPredictionBatch());
        Assert.Null(encoded.ValidateShape());
        Assert.Equal("prod-1:7", encoded.BatchId);
        Assert.Equal(("m", "v1", 3), (encoded.Model, encoded.Version, encoded.Count));
        Assert.Equal(["pos", "neg"], encoded.Labels.ToArray());
        Assert.Equal(["region", "channel"], encoded.Dimensions.ToArray());
        Assert.Equal(["EU", "US", "web"], encoded.SegmentValues.ToArray());
        Assert.Equal([0, -1, 1, -1, -1, 2], encoded.SegmentValueIndex);
        Assert.Equal(new[] { "pos", "neg", "pos" }, encoded.Actual.Select(a => encoded.Labels[a]));
        Assert.Equal(new[] { "pos", "neg", "neg" }, encoded.Predicted.Select(a => encoded.Labels[a]));
        Assert.All(encoded.TimestampUtcTicks, t => Assert.Equal(ts.UtcTicks, t));
    }
}

public sealed class EventHubSinkTests
{
    private sealed class CapturingSender : IEventDataSender
    {
        public List<(EventData Data, string PartitionKey)> Sent { get; } = [];

        public Exception? Throw { get; set; }

        public Task SendAsync(EventData eventData, string partitionKey, CancellationToken cancellationToken)
        {
            if (Throw is { } ex)
            {
                return Task.FromException(ex);
            }

            Sent.Add((eventData, partitionKey));
            return Task.CompletedTask;
        }
    }

    private static SinkBatch Batch() => new("fraud", "v2", "svc-host-abc", 42,
    [
        new Prediction("r-1", "fraud", "v2", "fraud", "legit") { Score = 0.91, Timestamp = Start, Segments = new Dictionary<string, string> { ["region"] = "EU", ["channel"] = "web" } },
        new Prediction("r-2", "fraud", "v2", "legit", "legit") { Timestamp = Start.AddSeconds(1) },
    ]);

    [Fact]
    public async Task OneEventPerBatch_InTheRawHttpFormat_WithPropertiesAndPartitionKey()
    {
        var sender = new CapturingSender();
        await new EventHubSink(sender).SendAsync(Batch(), CancellationToken.None);

        var (data, partitionKey) = Assert.Single(sender.Sent);
        Assert.Equal("fraud/v2", partitionKey);
        Assert.Equal("application/json", data.ContentType);
        Assert.Equal("svc-host-abc:42", data.MessageId);
        Assert.Equal("fraud", data.Properties["model"]);
        Assert.Equal("v2", data.Properties["version"]);
        Assert.Equal("svc-host-abc", data.Properties["producerId"]);
        Assert.Equal(42L, data.Properties["sequence"]);

        using var body = JsonDocument.Parse(data.EventBody.ToString());
        var items = body.RootElement.EnumerateArray().ToList();
        Assert.Equal(2, items.Count);
        var first = items[0];
        Assert.Equal("r-1", first.GetProperty("predictionId").GetString());
        Assert.Equal("fraud", first.GetProperty("model").GetString());
        Assert.Equal("v2", first.GetProperty("version").GetString());
        Assert.Equal("fraud", first.GetProperty("predicted").GetString());
        Assert.Equal("legit", first.GetProperty("actual").GetString());
        Assert.Equal(0.91, first.GetProperty("score").GetDouble());
        Assert.Equal(Start, DateTimeOffset.Parse(first.GetProperty("timestamp").GetString()!, System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal("EU", first.GetProperty("segments").GetProperty("region").GetString());
        Assert.Equal("web", first.GetProperty("segments").GetProperty("channel").GetString());
        Assert.False(items[1].TryGetProperty("score", out _));
        Assert.False(items[1].TryGetProperty("segments", out _));
        Assert.Equal("r-2", items[1].GetProperty("predictionId").GetString());
    }

    [Fact]
    public async Task OversizedEvent_IsRefusedPermanently_OtherFailuresStayRetryable()
    {
        var sender = new CapturingSender { Throw = new EventHubsException(false, "hub", EventHubsException.FailureReason.MessageSizeExceeded) };
        var sink = new EventHubSink(sender);
        await Assert.ThrowsAsync<NonRetryableSinkException>(() => sink.SendAsync(Batch(), CancellationToken.None));

        sender.Throw = new EventHubsException(true, "hub", EventHubsException.FailureReason.ServiceBusy);
        var busy = await Assert.ThrowsAsync<EventHubsException>(() => sink.SendAsync(Batch(), CancellationToken.None));
        Assert.True(busy.IsTransient);
    }

    [Fact]
    public async Task ThroughTheLogger_RetriedEventsCarryTheSameSequenceProperty()
    {
        using var probe = new MetricsProbe();
        var time = new FakeTimeProvider(Start);
        var sender = new CapturingSender { Throw = new EventHubsException(true, "hub", EventHubsException.FailureReason.ServiceTimeout) };
        var failing = new EventHubSink(sender);
        var attempts = new List<EventData>();
        var recording = new DelegatingSink(async (batch, ct) =>
        {
            attempts.Add(EventHubSink.CreateEventData(batch));
            await failing.SendAsync(batch, ct);
        });
        await using var logger = CreateLogger(recording, time, probe, o => { o.BatchSize = 2; o.RetryMaxDelay = TimeSpan.FromSeconds(1); });
        logger.TryLog(P(0, model: "fraud"));
        logger.TryLog(P(1, model: "fraud"));
        await DriveUntilAsync(time, TimeSpan.FromSeconds(1), () => attempts.Count >= 2, "a retry");
        sender.Throw = null;
        await DriveUntilAsync(time, TimeSpan.FromSeconds(1), () => sender.Sent.Count == 1, "the event to go out");

        Assert.All(attempts.Append(sender.Sent[0].Data), e =>
        {
            Assert.Equal(1L, e.Properties["sequence"]);
            Assert.Equal(logger.ProducerId, e.Properties["producerId"]);
            Assert.Equal(attempts[0].EventBody.ToString(), e.EventBody.ToString());
        });
    }

    private sealed class DelegatingSink(Func<SinkBatch, CancellationToken, Task> send) : IPredictionSink
    {
        public Task SendAsync(SinkBatch batch, CancellationToken cancellationToken) => send(batch, cancellationToken);
    }
}
