using ConfusionMatrix.Abstractions;
using static ConfusionMatrix.Streaming.EventHubs.Tests.AdapterHarness;

namespace ConfusionMatrix.Streaming.EventHubs.Tests;

/// <summary>
/// The malformed corpus (the same inputs the HTTP test sends) as Event Hubs events through the data adapter: no body
/// throws, every good record lands in the event's batch, and every bad one is left out and counted by reason. A record
/// that is bad only against the model registry (an unknown class) passes the adapter, which does not read the
/// registry; the version router refuses it, as for every other path.
/// </summary>
public sealed class MalformedCorpusAdapterTests(Xunit.Abstractions.ITestOutputHelper log) : IDisposable
{
    private readonly AdapterHarness _h = new();

    public void Dispose() => _h.Dispose();

    [Fact]
    public void EveryCorpusInputAsAnEvent_KeepsItsGoodRecords_AndCountsItsBadOnes()
    {
        var corpus = MalformedCorpus.Build("corpus", "v1", DateTimeOffset.UtcNow);
        Assert.True(corpus.Count >= 200, $"the corpus has {corpus.Count} inputs");
        long sequence = 0, good = 0, refused = 0;
        foreach (var c in corpus)
        {
            var before = _h.Rejected.Values.Sum();
            var (container, _) = _h.Deliver(Event(c.Body, ++sequence, c.ContentType, Names("corpus", "v1"), enqueued: DateTimeOffset.UtcNow), partition: "0");
            var batch = Assert.Single(container.GetEvents<PredictionBatch>()).Item1;
            var rejected = _h.Rejected.Values.Sum() - before;
            Assert.True(batch.ValidateShape() is null, $"{c}: {batch.ValidateShape()}");
            if (c.WholeBodyInvalid)
            {
                if (c.Name.Contains("trailing", StringComparison.Ordinal))
                {
                    Assert.True(batch.Count <= 2, $"{c}: {batch.Count} records kept");
                }
                else
                {
                    Expect.Equal(0, batch.Count, $"{c}: records kept");
                }

                Assert.True(rejected >= 1, $"{c}: nothing counted as refused");
                refused += rejected;
                continue;
            }

            if (c.RegistryOnly)
            {
                // Kept for the router to refuse, or refused here already (another model than the event's).
                Expect.Equal(c.Good + c.BadIndexes.Length, batch.Count + rejected, $"{c}: records kept ({batch.Count}) and refused ({rejected})");
                Assert.True(batch.Count >= c.Good, $"{c}: kept {batch.Count}, refused {rejected}");
            }
            else
            {
                Expect.Equal(c.Good, batch.Count, $"{c}: good records kept");
                Expect.Equal(c.BadIndexes.Length, rejected, $"{c}: bad records refused");
            }

            good += c.Good;
            refused += rejected;
        }

        log.WriteLine($"{corpus.Count} events: {good} good records kept, {refused} refusals counted");
    }
}
