using System.Diagnostics;
using ConfusionMatrix.Abstractions;
using ConfusionMatrix.Grains;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Serialization;

namespace ConfusionMatrix.Bench;

/// <summary>
/// The label join: what one waiting prediction costs in memory and in stored state, and how fast predictions without
/// their label and then their labels go through a silo, against predictions logged with their label in the same run.
/// </summary>
public static class LabelJoin
{
    private static readonly string[] Classes = ["legit", "fraud"];
    private static readonly string[] Regions = ["EU", "US", "APAC", "LATAM", "MEA"];
    private static readonly string[] Channels = ["web", "app", "pos"];

    public static async Task RunAsync(bool quick, string resultsDir)
    {
        var results = new Results(resultsDir, "labels");
        var rows = new List<string[]>();
        var n = quick ? 100_000 : 400_000;

        // 1. Memory of the join state itself: entries shaped as a shard keeps them (ids like "txn-000123456",
        //    interned version and segment sets), measured as the managed heap growth of building them.
        var (bytesPerEntry, serializedPerEntry) = MeasureEntryCost(quick ? 100_000 : 300_000);
        results.Set("labels_pending_bytes_per_prediction", bytesPerEntry);
        results.Set("labels_pending_serialized_bytes_per_prediction", serializedPerEntry);
        rows.Add(["one waiting prediction in memory", Stats.Bytes(bytesPerEntry), "managed heap growth / entries"]);
        rows.Add(["one waiting prediction stored", Stats.Bytes(serializedPerEntry), "Orleans-serialized shard state / entries"]);

        await using var silo = await BenchSilo.StartAsync(durable: null);
        var client = silo.Client;
        await client.GetGrain<IModelRegistryGrain>("bench-labels").RegisterAsync(
            new ModelDefinition("bench-labels", [.. Classes], "fraud", ["region", "channel"], DateTimeOffset.UtcNow));
        var router = client.GetGrain<IVersionRouterGrain>(PredictionLog.VersionKey("bench-labels", "v1"));
        var labelled = client.GetGrain<IVersionRouterGrain>(PredictionLog.VersionKey("bench-labels", "with-actual"));
        var labels = client.GetGrain<ILabelRouterGrain>("bench-labels");

        // Warm-up of every path.
        await IngestAsync(labelled, "with-actual", "w", 20_000, withActual: true, producer: "warm-a");
        await IngestAsync(router, "v1", "w", 20_000, withActual: false, producer: "warm-p");
        await LabelAsync(labels, "w", 20_000);

        // 2. Baseline in the same process: predictions logged with their label, by direct router calls of 1000.
        var baseline = await IngestAsync(labelled, "with-actual", "b", n, withActual: true, producer: "base");

        // 3. The same predictions without their label: each goes to its shard and waits there.
        var pending = await IngestAsync(router, "v1", "p", n, withActual: false, producer: "pend");

        // 4. Their labels, in batches of 1000: each joined, applied to the segments of its prediction, once.
        var joined = await LabelAsync(labels, "p", n);
        var stats = await labels.GetStatsAsync();
        if (stats.Pending != 0 || stats.Applied < n)
        {
            throw new InvalidOperationException($"label join incomplete: pending {stats.Pending}, applied {stats.Applied} of {n}");
        }

        results.Set("labels_baseline_with_actual_pps", baseline);
        results.Set("labels_pending_ingest_pps", pending);
        results.Set("labels_join_lps", joined);
        results.Set("labels_pending_vs_baseline", pending / baseline);
        results.Set("labels_join_vs_baseline", joined / baseline);
        rows.Add(["predictions with actual (baseline)", Stats.Rate(baseline), $"{n:N0}, direct router calls of 1000"]);
        rows.Add(["predictions awaiting their label", Stats.Rate(pending), $"ratio {Stats.F(pending / baseline)} of baseline"]);
        rows.Add(["labels joined", Stats.Rate(joined), $"ratio {Stats.F(joined / baseline)} of baseline"]);
        Stats.PrintTable("Label join (memory storage, one silo)", ["what", "measured", "how"], rows);
        results.Save();
    }

    private static (double InMemory, double Serialized) MeasureEntryCost(int count)
    {
        var version = "v1";
        var sets = new List<string[]>();
        foreach (var region in Regions)
        {
            foreach (var channel in Channels)
            {
                sets.Add(["all", $"region={region}", $"channel={channel}"]);
            }
        }

        var random = new Random(5);
        var ids = new string[count];
        for (var i = 0; i < count; i++)
        {
            ids[i] = $"txn-{i:D9}";
        }

        var before = GC.GetTotalMemory(forceFullCollection: true);
        var state = new LabelJoinState();
        for (var i = 0; i < count; i++)
        {
            state.Entries[ids[i]] = new JoinEntry
            {
                Version = version,
                Segments = sets[random.Next(sets.Count)],
                EventTicks = DateTimeOffset.UtcNow.UtcTicks - random.Next(),
                Predicted = (ushort)random.Next(2),
                Score = (float)random.NextDouble(),
            };
        }

        var after = GC.GetTotalMemory(forceFullCollection: true);

        // The ids were allocated before the baseline reading; a shard holds its own copy of each (they arrive serialized).
        var idBytes = 0L;
        foreach (var id in ids)
        {
            idBytes += 22 + (2 * id.Length) + (8 - ((22 + (2 * id.Length)) % 8)) % 8;
        }

        var services = new ServiceCollection().AddSerializer(s => s.AddAssembly(typeof(LabelJoinState).Assembly)).BuildServiceProvider();
        var serializer = services.GetRequiredService<Serializer>();
        var bytes = serializer.SerializeToArray(state).Length;
        GC.KeepAlive(state);
        return ((after - before + idBytes) / (double)count, bytes / (double)count);
    }

    private static async Task<double> IngestAsync(IVersionRouterGrain router, string version, string prefix, int n, bool withActual, string producer)
    {
        var random = new Random(11);
        var now = DateTimeOffset.UtcNow;
        var watch = Stopwatch.StartNew();
        long sequence = 0;
        for (var start = 0; start < n; start += 1000)
        {
            var builder = new PredictionBatchBuilder("bench-labels", version);
            for (var i = start; i < Math.Min(n, start + 1000); i++)
            {
                var fraud = random.NextDouble() < 0.1;
                builder.Add(
                    withActual ? (fraud ? "fraud" : "legit") : null,
                    random.NextDouble() < 0.9 == fraud ? "fraud" : "legit",
                    now.AddSeconds(-random.Next(86_400)),
                    [new("region", Regions[random.Next(Regions.Length)]), new("channel", Channels[random.Next(Channels.Length)])],
                    $"{prefix}-{i:D9}",
                    random.NextDouble());
            }

            await router.IngestAsync(builder.Build(producer, ++sequence));
        }

        return n / watch.Elapsed.TotalSeconds;
    }

    private static async Task<double> LabelAsync(ILabelRouterGrain labels, string prefix, int n)
    {
        var random = new Random(13);
        var now = DateTimeOffset.UtcNow;
        var watch = Stopwatch.StartNew();
        for (var start = 0; start < n; start += 1000)
        {
            var builder = new LabelBatchBuilder("bench-labels");
            for (var i = start; i < Math.Min(n, start + 1000); i++)
            {
                builder.Add($"{prefix}-{i:D9}", random.NextDouble() < 0.1 ? "fraud" : "legit", now);
            }

            var result = await labels.IngestAsync(builder.Build());
            if (result.Refused is not null)
            {
                throw new InvalidOperationException(result.Refused);
            }
        }

        return n / watch.Elapsed.TotalSeconds;
    }
}
