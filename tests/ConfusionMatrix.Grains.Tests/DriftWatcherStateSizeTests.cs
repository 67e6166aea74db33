using System.Diagnostics.Metrics;
using ConfusionMatrix.Abstractions;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Storage;
using Orleans.TestingHost;
using Xunit.Abstractions;
using static ConfusionMatrix.Tests.Shared.ClusterTestHelpers;

namespace ConfusionMatrix.Grains.Tests;

/// <summary>
/// How large the drift watcher's stored state grows with classes and segments. Unlike the rollout history and the
/// audit trail it is not bounded: it holds, per (version, segment), the epoch-start counts, frozen baselines, the guard
/// reference and the latest verdict. Azure Table grain storage refuses a state over 15 properties of 64 KiB, which is
/// why the control store can be put on blobs. The size measured is that of the bytes the grain's storage provider
/// actually holds (memory storage writes them with the same grain-storage serializer Azure Table storage uses).
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class DriftWatcherStateSizeTests(ClusterFixture fixture, ITestOutputHelper output)
{
    /// <summary>
    /// Measured (stored, as Orleans binary): K=2 with 10 segments ~59 KiB (19), with 50 ~268 KiB (86); K=10 with 10 ~257 KiB (90); K=10 with 50
    /// ~1.2 MiB (0.4); K=100 with 10 ~2.1 MiB (0.75); K=100 with 50 ~9.4 MiB (3.3). The stored form is the default
    /// grain-storage serializer's JSON, about three times the binary form; the latest verdicts (three class deltas per
    /// class, per version and segment) are most of it. <c>Storage:Format=Binary</c> stores the binary form
    /// (<see cref="BinaryStateSizeTests"/>).
    /// </summary>
    [Theory]
    [InlineData(2, 10, true)]
    [InlineData(2, 50, true)]
    [InlineData(10, 10, true)]
    [InlineData(10, 50, false)]
    [InlineData(100, 10, false)]
    public async Task StoredState_GrowsWithClassesAndSegments_AndTheWatcherWarnsBeforeAzureTableRefusesIt(int classes, int segments, bool fitsAnAzureTableEntity)
    {
        using var warnings = new LargeStateWarnings();
        var size = await MeasureAsync(fixture.Cluster, classes, segments);
        output.WriteLine($"K={classes} segments={segments}: {size}");
        Assert.True(size.StoredAsJson, "the shared cluster stores the default format, JSON");

        if (fitsAnAzureTableEntity)
        {
            Assert.True(size.MaxStored < DriftWatcherOptions.DefaultStateWarningBytes, size.ToString());
            Assert.Equal(0, warnings.Count(size.Model));
        }
        else
        {
            // Past what one table entity takes: on Azure Table every write of this watcher would fail. The watcher
            // measures its state before the write and says so (the fixture sets the warning size as the host does).
            Assert.True(size.MaxStored > AzureTableStateLimit, size.ToString());
            Assert.True(warnings.Count(size.Model) >= 1, $"no large-state warning for {size.Model}");
        }
    }

    /// <summary>The watcher's stored state in a canary epoch and in the guard period after the promotion.</summary>
    internal static async Task<StateSize> MeasureAsync(TestCluster cluster, int classes, int segments)
    {
        var client = cluster.Client;
        var model = UniqueModel($"state-size-k{classes}-s{segments}");
        var labels = Enumerable.Range(0, classes).Select(c => $"c{c}").ToArray();
        await RegisterAsync(client, model, labels, "site");
        var rollout = client.GetGrain<IRolloutControllerGrain>(model);
        var watcher = client.GetGrain<IDriftWatcherGrain>(model);
        await watcher.SetPolicyAsync(new DriftPolicySettings(EvaluationInterval: TimeSpan.FromHours(1), EvidenceThreshold: 100_000_000));

        // Enough predictions per segment that a segment's matrix has most of its diagonal and a spread of confusions.
        var perSegment = Math.Max(200, 10 * classes);
        await SendAsync(client, model, "v1", labels, segments, perSegment, seed: 1);
        await SendAsync(client, model, "v2", labels, segments, perSegment, seed: 2);

        // A canary epoch: epoch-start counts of both versions, then verdicts of both against their references.
        await rollout.SetStableAsync("v1", "operator:alice", "first release");
        await rollout.StartCanaryAsync("v2", 50, "operator:alice", "canary");
        await watcher.EvaluateNowAsync();
        await SendAsync(client, model, "v1", labels, segments, perSegment, seed: 3);
        await SendAsync(client, model, "v2", labels, segments, perSegment, seed: 4);
        await watcher.EvaluateNowAsync();
        var canary = await StoredBytesAsync(cluster, watcher);

        // The guard period after a promotion adds the previous stable's epoch per segment as a reference.
        ClusterFixture.Time.Advance(TimeSpan.FromSeconds(1));
        await rollout.PromoteAsync("operator:alice", "canary looked good");
        await watcher.EvaluateNowAsync();
        await SendAsync(client, model, "v2", labels, segments, perSegment, seed: 5);
        var report = await watcher.EvaluateNowAsync();
        Assert.Contains(report.Verdicts, v => v.Version == "v2" && v.Reference.Contains("previous stable", StringComparison.Ordinal));
        var guard = await StoredBytesAsync(cluster, watcher);

        return new StateSize(model, canary.Stored, canary.Binary, canary.Json, guard.Stored, guard.Binary, guard.Json, guard.StartsWithBrace);
    }

    /// <summary>Predictions spread evenly over <paramref name="segments"/> sites: half right, half confused at random.</summary>
    private static async Task SendAsync(IClusterClient client, string model, string version, string[] labels, int segments, int perSegment, int seed)
    {
        var random = new Random(seed);
        var router = client.GetGrain<IVersionRouterGrain>(PredictionLog.VersionKey(model, version));
        var now = ClusterFixture.Time.GetUtcNow();
        var builder = new PredictionBatchBuilder(model, version);
        long sequence = 0;
        var count = segments * perSegment;
        for (var i = 0; i < count; i++)
        {
            var actual = random.Next(labels.Length);
            var predicted = random.NextDouble() < 0.5 ? actual : random.Next(labels.Length);
            builder.Add(labels[actual], labels[predicted], now, [new("site", $"s{i % segments}")]);
            if (builder.Count == 5000 || i == count - 1)
            {
                var result = await router.IngestAsync(builder.Build($"{version}-{seed}", ++sequence));
                Assert.Equal(builder.Count, result.Accepted);
                builder.Clear();
            }
        }
    }

    /// <summary>
    /// The bytes the watcher's storage provider holds for it, read back from memory storage and read with the control
    /// store's serializer, and the same state in Orleans' binary form and in JSON for comparison.
    /// </summary>
    private static async Task<(int Stored, int Binary, int Json, bool StartsWithBrace)> StoredBytesAsync(TestCluster cluster, IDriftWatcherGrain watcher)
    {
        var stored = await StoredStateAsync(cluster.Client, "drift", watcher.GetGrainId());
        var silo = Assert.IsType<InProcessSiloHandle>(cluster.Primary).SiloHost.Services;
        var state = StorageFormats.For(silo, StorageNames.Control).Deserialize<DriftWatcherState>(stored);
        var binary = StorageFormats.Serializer(silo, StorageFormat.Binary).Serialize(state).ToMemory().Length;
        var json = StorageFormats.Serializer(silo, StorageFormat.Json).Serialize(state).ToMemory().Length;
        return (stored.Length, binary, json, stored.Span[0] == (byte)'{');
    }

    internal sealed record StateSize(string Model, int CanaryStored, int CanaryBinary, int CanaryJson, int GuardStored, int GuardBinary, int GuardJson, bool StoredAsJson)
    {
        public int MaxStored => Math.Max(CanaryStored, GuardStored);

        public override string ToString() =>
            $"canary epoch {Kib(CanaryStored)} stored ({Kib(CanaryJson)} as JSON, {Kib(CanaryBinary)} as Orleans binary), guard period {Kib(GuardStored)} stored ({Kib(GuardJson)} as JSON, {Kib(GuardBinary)} as Orleans binary)";

        private static string Kib(int bytes) => $"{bytes / 1024.0:0.0} KiB";
    }

    /// <summary>Counts the large-state warnings of the silos in this process, by model.</summary>
    internal sealed class LargeStateWarnings : IDisposable
    {
        private readonly MeterListener _listener = new();
        private readonly Dictionary<string, long> _counts = [];

        public LargeStateWarnings()
        {
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == ConfusionMatrixInstruments.MeterName && instrument.Name == "confusionmatrix.storage.state_large")
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
            {
                foreach (var tag in tags)
                {
                    if (tag.Key == "model" && tag.Value is string model)
                    {
                        lock (_counts)
                        {
                            _counts[model] = _counts.GetValueOrDefault(model) + value;
                        }
                    }
                }
            });
            _listener.Start();
        }

        public long Count(string model)
        {
            lock (_counts)
            {
                return _counts.GetValueOrDefault(model);
            }
        }

        public void Dispose() => _listener.Dispose();
    }
}
