using ConfusionMatrix.Abstractions;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using static ConfusionMatrix.Client.Tests.Support;

namespace ConfusionMatrix.Client.Tests;

/// <summary>Logger, real sinks and real grains: every logged prediction is counted exactly once.</summary>
[Collection(ClusterCollection.Name)]
public sealed class EndToEndTests(ClusterFixture fixture) : IDisposable
{
    private static int _models;
    private static readonly string[] Classes = ["legit", "fraud"];
    private readonly MetricsProbe _probe = new();
    private readonly FakeTimeProvider _time = new(Start);

    public void Dispose() => _probe.Dispose();

    [Fact]
    public async Task StreamSink_GivesExactMatrices_ForAllAndASegment()
    {
        var model = await RegisterAsync("e2e-stream");
        await using (var logger = CreateLogger(new OrleansStreamSink(fixture.Client), _time, _probe, o => { o.BatchSize = 50; o.BatchInterval = TimeSpan.FromMinutes(5); }))
        {
            foreach (var p in Traffic(model, 437))
            {
                Assert.True(await logger.LogAsync(p));
            }

            await logger.FlushAsync();
        }

        await AssertExactAsync(model, 437);
        Assert.Equal(437, _probe.Sum("confusionmatrix.client.sent"));
        Assert.Equal(9, _probe.Sum("confusionmatrix.client.batches"));
    }

    [Fact]
    public async Task StreamSink_FailingNTimes_StillCountsEveryPredictionExactlyOnce()
    {
        var model = await RegisterAsync("e2e-flaky");
        var sink = new FlakySink(new OrleansStreamSink(fixture.Client), failures: 6);
        var logger = CreateLogger(sink, _time, _probe, o =>
        {
            o.BatchSize = 40;
            o.BatchInterval = TimeSpan.FromMinutes(5);
            o.RetryBaseDelay = TimeSpan.FromMilliseconds(50);
            o.RetryMaxDelay = TimeSpan.FromSeconds(1);
        });
        foreach (var p in Traffic(model, 301))
        {
            Assert.True(logger.TryLog(p));
        }

        var flushed = logger.FlushAsync();
        await DriveUntilAsync(_time, TimeSpan.FromSeconds(1), () => flushed.IsCompleted, "all batches through the flaky sink");
        await flushed;
        await logger.DisposeAsync();

        Assert.Equal(6, sink.Injected);
        Assert.Equal(6, _probe.Sum("confusionmatrix.client.retries"));
        Assert.Equal(301, _probe.Sum("confusionmatrix.client.sent"));
        Assert.Equal(0, _probe.Sum("confusionmatrix.client.dropped"));
        await AssertExactAsync(model, 301);
    }

    [Fact]
    public async Task GrainCallSink_GivesExactMatrices_AndCountsSiloRejections()
    {
        var model = await RegisterAsync("e2e-grain");
        var sink = new OrleansGrainCallSink(fixture.Client, _probe.Metrics, NullLogger<OrleansGrainCallSink>.Instance);
        await using (var logger = CreateLogger(sink, _time, _probe, o => o.BatchSize = 64))
        {
            foreach (var p in Traffic(model, 200))
            {
                logger.TryLog(p);
            }

            // Locally valid, but not one of the registered classes: only the silo can refuse it.
            logger.TryLog(new Prediction("unknown-class", model, "v1", "cat", "legit") { Timestamp = Start });
            await logger.FlushAsync();
        }

        await AssertExactAsync(model, 200);
        Assert.Equal(1, _probe.Sum("confusionmatrix.client.rejected", RejectionReasons.UnknownClass, "silo"));
    }

    [Fact]
    public async Task PredictionsWithoutActual_ThenLabelsFromLabelSender_GiveExactMatrices_AndResendsChangeNothing()
    {
        var model = await RegisterAsync("e2e-labels");
        var sink = new OrleansGrainCallSink(fixture.Client, _probe.Metrics, NullLogger<OrleansGrainCallSink>.Instance);
        await using (var logger = CreateLogger(sink, _time, _probe, o => o.BatchSize = 64))
        {
            foreach (var p in Traffic(model, 250))
            {
                Assert.True(logger.TryLog(p with { Actual = null }));
            }

            await logger.FlushAsync();
        }

        var sender = new LabelSender(fixture.Client, _time);
        var labels = Enumerable.Range(0, 250).Select(i => new Label(model, $"{model}-{i}", Actual(i)) { Source = "review" }).ToList();
        var outcomes = await sender.SendAsync(labels);
        Assert.All(outcomes, o => Assert.Equal(LabelOutcome.Applied, o));
        var again = await sender.SendAsync(labels);
        Assert.All(again, o => Assert.Equal(LabelOutcome.Duplicate, o));

        await AssertExactAsync(model, 250);
        Assert.Throws<ArgumentException>(() => sender.SendAsync([new Label(model, "", "fraud")]).GetAwaiter().GetResult());
    }

    private async Task<string> RegisterAsync(string stem)
    {
        var model = $"{stem}-{Interlocked.Increment(ref _models)}";
        await fixture.Client.GetGrain<IModelRegistryGrain>(model).RegisterAsync(new ModelDefinition(model, [.. Classes], "fraud", ["region"], Start));
        return model;
    }

    private static string Region(int i) => (i % 3) switch { 0 => "EU", 1 => "US", _ => "APAC" };

    private static string Actual(int i) => i % 4 == 0 ? "fraud" : "legit";

    private static string Predicted(int i) => i % 5 == 0 ? "fraud" : "legit";

    private static IEnumerable<Prediction> Traffic(string model, int n) =>
        Enumerable.Range(0, n).Select(i => new Prediction($"{model}-{i}", model, "v1", Predicted(i), Actual(i))
        {
            Timestamp = Start.AddSeconds(-(i % 300)),
            Segments = new Dictionary<string, string> { ["region"] = Region(i) },
        });

    private static long[][] Expected(int n, Func<int, bool> member)
    {
        var rows = new[] { new long[2], new long[2] };
        for (var i = 0; i < n; i++)
        {
            if (member(i))
            {
                rows[Array.IndexOf(Classes, Actual(i))][Array.IndexOf(Classes, Predicted(i))]++;
            }
        }

        return rows;
    }

    private async Task AssertExactAsync(string model, int n)
    {
        Assert.Equal(Expected(n, _ => true), await WaitForMatrixAsync(model, Segments.All, n));
        var eu = Expected(n, i => Region(i) == "EU");
        Assert.Equal(eu, await WaitForMatrixAsync(model, "region=EU", eu.Sum(r => r.Sum())));
    }

    private async Task<long[][]> WaitForMatrixAsync(string model, string segment, long expected) =>
        (await ClusterTestHelpers.WaitForTotalAsync(fixture.Client, model, "v1", segment, expected)).Matrix.ToRows();

    /// <summary>Fails every other attempt, before delegating, until its failures are used up.</summary>
    private sealed class FlakySink(IPredictionSink inner, int failures) : IPredictionSink
    {
        private int _calls;
        private int _failuresLeft = failures;
        private int _injected;

        public int Injected => Volatile.Read(ref _injected);

        public async Task SendAsync(SinkBatch batch, CancellationToken cancellationToken)
        {
            if (Interlocked.Increment(ref _calls) % 2 == 1 && Interlocked.Decrement(ref _failuresLeft) >= 0)
            {
                Interlocked.Increment(ref _injected);
                throw new TimeoutException($"injected failure before sending {batch.ProducerId}:{batch.Sequence}");
            }

            await inner.SendAsync(batch, cancellationToken);
        }
    }
}
