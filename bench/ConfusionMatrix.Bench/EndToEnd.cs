using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using Azure.Data.Tables;
using Azure.Storage.Queues;
using ConfusionMatrix.Abstractions;
using ConfusionMatrix.Grains;
using ConfusionMatrix.Silo.Configuration;
using ConfusionMatrix.Silo.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Streams;

namespace ConfusionMatrix.Bench;

/// <summary>
/// Producer and silo in one process: one silo configured like ConfusionMatrixHost (memory storage x4 names and memory
/// streams, or Azure Table storage and Azure Queue streams), fed through the prediction-log stream from the silo's own
/// IClusterClient.
/// </summary>
public static class EndToEnd
{
    private static readonly string[] Classes = ["legit", "fraud"];
    private static readonly string[] Dimensions = ["region", "channel", "device"];
    private static readonly string[][] DimensionValues =
    [
        ["EU", "US", "APAC", "LATAM", "MEA"],
        ["web", "app", "pos"],
        ["ios", "android", "desktop", "tablet"],
    ];

    private const int DefaultVersions = 2;
    private static int Versions = DefaultVersions;
    private const string ProbeRegion = "probe";

    public static async Task RunAsync(bool quick, string resultsDir, string azureConnection)
    {
        var results = new Results(resultsDir, "e2e");
        var rows = new List<string[]>();
        var runs = quick ? 1 : 3;

        await using (var silo = await BenchSilo.StartAsync(durable: null))
        {
            // Warm-up: JIT, grain-type activation paths, stream queues.
            await MeasureThroughputAsync(silo, "warm", batchSize: 1000, total: 100_000);
            await MeasureThroughputAsync(silo, "warm1", batchSize: 100, total: 20_000);

            var rates = new Dictionary<int, double>();
            foreach (var (batch, n) in new[] { (1000, quick ? 600_000 : 2_000_000), (100, quick ? 150_000 : 400_000), (1, quick ? 2_000 : 6_000) })
            {
                var samples = new List<double>();
                for (var r = 0; r < runs; r++)
                {
                    samples.Add(await MeasureThroughputAsync(silo, $"tp{batch}r{r}", batch, n));
                }

                rates[batch] = Stats.Median(samples);
                results.Set($"e2e_b{batch}_pps", rates[batch]);
                rows.Add([$"memory streams, batch {batch}", $"{n:N0} x {runs}", Stats.Rate(rates[batch]), string.Join(" ", samples.Select(Stats.Rate)), $"{Versions * 13}"]);
            }

            // Scaling with the number of streams in flight: the same batch-1000 load spread over 8 version streams.
            var wide = new List<double>();
            Versions = 8;
            try
            {
                for (var r = 0; r < runs; r++)
                {
                    wide.Add(await MeasureThroughputAsync(silo, $"wide{r}", 1000, quick ? 600_000 : 2_000_000));
                }
            }
            finally
            {
                Versions = DefaultVersions;
            }

            results.Set("e2e_b1000_8streams_pps", Stats.Median(wide));
            rows.Add(["memory streams, batch 1000, 8 version streams", $"x {runs}", Stats.Rate(Stats.Median(wide)), string.Join(" ", wide.Select(Stats.Rate)), $"{8 * 13}"]);

            // Breakdown in the same process: the same batches by direct grain call, without the stream.
            var direct = new List<double>();
            var segmentOnly = new List<double>();
            var segmentCells = new List<double>();
            for (var r = 0; r < runs; r++)
            {
                direct.Add(await MeasureDirectAsync(silo, $"dir{r}", 1000, quick ? 600_000 : 2_000_000, DirectPath.Router));
                segmentOnly.Add(await MeasureDirectAsync(silo, $"seg{r}", 1000, quick ? 600_000 : 2_000_000, DirectPath.SegmentCounts));
                segmentCells.Add(await MeasureDirectAsync(silo, $"cel{r}", 1000, quick ? 600_000 : 2_000_000, DirectPath.SegmentCells));
            }

            results.Set("e2e_direct_router_b1000_pps", Stats.Median(direct));
            results.Set("e2e_direct_segment_b1000_pps", Stats.Median(segmentOnly));
            results.Set("e2e_stream_vs_direct", rates[1000] / Stats.Median(direct));
            rows.Add(["direct IVersionRouterGrain.IngestAsync, batch 1000 (no stream)", $"x {runs}", Stats.Rate(Stats.Median(direct)), string.Join(" ", direct.Select(Stats.Rate)), $"{Versions * 13}"]);
            rows.Add(["direct ISegmentMatrixGrain.RecordCountsAsync, 1000 predictions as (minute, cell) counts ('all' only)", $"x {runs}", Stats.Rate(Stats.Median(segmentOnly)), string.Join(" ", segmentOnly.Select(Stats.Rate)), $"{Versions}"]);
            rows.Add(["direct ISegmentMatrixGrain.RecordAsync, the same 1000 as cells + timestamps (previous wire form)", $"x {runs}", Stats.Rate(Stats.Median(segmentCells)), string.Join(" ", segmentCells.Select(Stats.Rate)), $"{Versions}"]);
            results.Set("e2e_direct_segment_cells_b1000_pps", Stats.Median(segmentCells));

            Stats.PrintTable(
                "Part 2a: end-to-end throughput (publish -> stream -> VersionRouter -> 13 SegmentMatrix grains per version; done when 'all' totals = N)",
                ["path", "N x runs", "median", "runs", "grains G"],
                rows);

            // Router-to-segment bytes for one batch: deterministic, so a figure the shared machine's noise does not move.
            var (cellsBytes, countsBytes, segmentCount) = WireBytes(silo, BuildPool("wire", 1000, 1, includeProbe: false)[0]);
            results.Set("e2e_wire_bytes_cells_b1000", cellsBytes);
            results.Set("e2e_wire_bytes_counts_b1000", countsBytes);
            Stats.PrintTable(
                "Part 2a': router-to-segment messages for one batch of 1000 predictions (Orleans serializer, all its segments)",
                ["wire form", "segments", "bytes", "bytes / prediction-segment"],
                [
                    ["SegmentBatch (cell + timestamp per prediction; previous)", segmentCount.ToString(), cellsBytes.ToString("N0"), Stats.F(cellsBytes / (1000.0 * (1 + Dimensions.Length)))],
                    ["SegmentCounts ((minute, cell, count) per part)", segmentCount.ToString(), countsBytes.ToString("N0"), Stats.F(countsBytes / (1000.0 * (1 + Dimensions.Length)))],
                ]);

            // Update-to-visible latency at about half the best measured rate, over several runs (the target holds in every run).
            var target = rates[1000] / 2;
            var latencyRuns = new List<(double P50, double P99, int Count, double Achieved)>();
            var latencyRows = new List<string[]>();
            for (var r = 0; r < runs; r++)
            {
                var run = await MeasureLatencyAsync(silo, target, TimeSpan.FromSeconds(quick ? 4 : 10));
                latencyRuns.Add(run);
                latencyRows.Add([$"run {r + 1}", Stats.Rate(target), Stats.Rate(run.Achieved), run.Count.ToString(), Stats.F(run.P50, "0.0") + " ms", Stats.F(run.P99, "0.0") + " ms"]);
            }

            var p50 = Stats.Median(latencyRuns.Select(l => l.P50).ToList());
            var p99 = Stats.Median(latencyRuns.Select(l => l.P99).ToList());
            var p99Worst = latencyRuns.Max(l => l.P99);
            results.Set("e2e_latency_target_pps", target);
            results.Set("e2e_latency_achieved_pps", Stats.Median(latencyRuns.Select(l => l.Achieved).ToList()));
            results.Set("e2e_latency_p50_ms", p50);
            results.Set("e2e_latency_p99_ms", p99);
            results.Set("e2e_latency_p99_max_ms", p99Worst);
            latencyRows.Add([$"median of {runs}", Stats.Rate(target), Stats.Rate(Stats.Median(latencyRuns.Select(l => l.Achieved).ToList())), latencyRuns.Sum(l => l.Count).ToString(), Stats.F(p50, "0.0") + " ms", Stats.F(p99, "0.0") + $" ms (worst run {Stats.F(p99Worst, "0.0")} ms)"]);
            Stats.PrintTable(
                "Part 2b: update-to-visible latency (probe batch published on the loaded stream until GetMatrixAsync shows it)",
                ["run", "offered load", "achieved", "probes", "p50", "p99"],
                latencyRows);

            // Same offered load on a silo whose stream pulling agent polls at Orleans' default 100 ms instead of the project's 10 ms.
            await using (var tuned = await StartAsyncOrleansDefaultPollAsync())
            {
                await MeasureThroughputAsync(tuned, "twarm", 1000, 100_000);
                var tunedRates = new List<double>();
                for (var r = 0; r < runs; r++)
                {
                    tunedRates.Add(await MeasureThroughputAsync(tuned, $"tuned{r}", 1000, quick ? 600_000 : 2_000_000));
                }

                var (tp50, tp99, tcount, tachieved) = await MeasureLatencyAsync(tuned, target, TimeSpan.FromSeconds(quick ? 4 : 10));
                results.Set("e2e_poll100ms_b1000_pps", Stats.Median(tunedRates));
                results.Set("e2e_poll100ms_latency_p50_ms", tp50);
                results.Set("e2e_poll100ms_latency_p99_ms", tp99);
                results.Set("e2e_poll100ms_p99_ratio", tp99 / p99);
                Stats.PrintTable(
                    "Part 2b': the same, with Orleans' default poll period (GetQueueMsgsTimerPeriod = 100 ms; the project's default is 10 ms)",
                    ["offered load", "achieved", "probes", "p50", "p99", "p99 / default", "batch-1000 rate"],
                    [[Stats.Rate(target), Stats.Rate(tachieved), tcount.ToString(), Stats.F(tp50, "0.0") + " ms", Stats.F(tp99, "0.0") + " ms", Stats.F(tp99 / p99), Stats.Rate(Stats.Median(tunedRates))]]);
            }

            // Managed memory per K=2 segment grain.
            var memRows = new List<string[]>();
            foreach (var grains in quick ? new[] { 10_000 } : new[] { 10_000, 100_000 })
            {
                var (perGrain, seconds) = await MeasureGrainMemoryAsync(silo, grains);
                results.Set($"e2e_mem_bytes_per_grain_{grains / 1000}k", perGrain);
                memRows.Add([grains.ToString("N0"), Stats.Bytes(perGrain), Stats.F(seconds, "0.0") + " s", Stats.Rate(grains / seconds)]);
            }

            Stats.PrintTable(
                "Part 2c: managed memory per K=2 SegmentMatrix grain (GC.GetTotalMemory(true) delta / grains; includes activation, windows and memory-storage copy)",
                ["grains", "bytes/grain", "activation time", "activations"],
                memRows);
        }

        if (!string.IsNullOrEmpty(azureConnection))
        {
            await RunDurableAsync(quick, azureConnection, results);
        }
        else
        {
            Console.WriteLine("(durable path skipped: no --azure connection string)");
        }

        results.Save();
    }

    private static Task<BenchSilo> StartAsyncOrleansDefaultPollAsync() => BenchSilo.StartAsync(durable: null, pollPeriod: TimeSpan.FromMilliseconds(100));

    private static async Task RunDurableAsync(bool quick, string connection, Results results)
    {
        var runs = quick ? 1 : 3;
        var n = quick ? 50_000 : 200_000;
        var rows = new List<string[]>();

        // Baseline in the same process: the memory path at the same N and batch size.
        var memory = new List<double>();
        await using (var silo = await BenchSilo.StartAsync(durable: null))
        {
            await MeasureThroughputAsync(silo, "dwarm", 1000, 50_000);
            for (var r = 0; r < runs; r++)
            {
                memory.Add(await MeasureThroughputAsync(silo, $"dmem{r}", 1000, n));
            }
        }

        var durable = new List<double>();
        var durable100 = new List<double>();
        var durableDirect = new List<double>();
        var sw = Stopwatch.StartNew();
        await using (var silo = await BenchSilo.StartAsync(durable: connection))
        {
            Console.WriteLine($"durable silo started in {sw.Elapsed.TotalSeconds:0.0} s");
            await MeasureThroughputAsync(silo, "dwarm", 1000, 20_000);
            for (var r = 0; r < runs; r++)
            {
                durable.Add(await MeasureThroughputAsync(silo, $"ddur{r}", 1000, n));
            }

            durable100.Add(await MeasureThroughputAsync(silo, "ddur100", 100, n / 5));

            // Without the queue: the same batches by direct router call, so the table writes alone bound the rate.
            for (var r = 0; r < runs; r++)
            {
                durableDirect.Add(await MeasureDirectAsync(silo, $"ddir{r}", 1000, n, DirectPath.Router));
            }
        }

        var mem = Stats.Median(memory);
        var dur = Stats.Median(durable);
        var d100 = Stats.Median(durable100);
        var dDirect = Stats.Median(durableDirect);
        results.Set("durable_direct_b1000_pps", dDirect);
        results.Set("durable_b1000_pps", dur);
        results.Set("durable_b100_pps", d100);
        results.Set("durable_mem_baseline_pps", mem);
        results.Set("durable_ratio", dur / mem);
        rows.Add(["memory storage + memory streams (same process)", $"{n:N0} x {runs}", Stats.Rate(mem), string.Join(" ", memory.Select(Stats.Rate)), "1.00"]);
        rows.Add(["AzureTable storage + AzureQueue streams (Azurite), batch 1000", $"{n:N0} x {runs}", Stats.Rate(dur), string.Join(" ", durable.Select(Stats.Rate)), Stats.F(dur / mem, "0.000")]);
        rows.Add(["AzureTable storage + AzureQueue streams (Azurite), batch 100", $"{n / 5:N0} x 1", Stats.Rate(d100), Stats.Rate(d100), Stats.F(d100 / mem, "0.000")]);
        rows.Add(["AzureTable storage, direct IVersionRouterGrain.IngestAsync (no queue), batch 1000", $"{n:N0} x {runs}", Stats.Rate(dDirect), string.Join(" ", durableDirect.Select(Stats.Rate)), Stats.F(dDirect / mem, "0.000")]);
        Stats.PrintTable(
            "Part 2d: durable path (each segment acknowledges a delivery once a table write holding it succeeded; concurrent deliveries share a write)",
            ["path", "N x runs", "median", "runs", "ratio to memory"],
            rows);
    }

    /// <summary>Publishes N predictions in batches across the versions; returns predictions/s from first publish until
    /// every version's 'all' segment totals its share.</summary>
    private static async Task<double> MeasureThroughputAsync(BenchSilo silo, string model, int batchSize, int total)
    {
        model = $"{model}-{Guid.NewGuid():N}"[..20];
        await RegisterAsync(silo, model);
        var batchesPerVersion = total / batchSize / Versions;
        var expectedPerVersion = (long)batchesPerVersion * batchSize;
        var pool = BuildPool(model, batchSize, 16, includeProbe: false);
        var started = Stopwatch.GetTimestamp();

        // A few concurrent publishers per version stream; memory-stream queue-full errors are retried after a pause.
        var publishers = new List<Task>();
        const int publishersPerVersion = 4;
        for (var v = 0; v < Versions; v++)
        {
            var version = $"v{v}";
            var stream = silo.Stream(model, version);
            var next = 0;
            for (var p = 0; p < publishersPerVersion; p++)
            {
                // Each publisher is its own producer, numbering its batches in the order it sends them (the contract
                // the segments' replay windows rely on).
                var producer = $"bench-{v}-{p}";
                publishers.Add(Task.Run(async () =>
                {
                    long sent = 0;
                    int seq;
                    while ((seq = Interlocked.Increment(ref next)) <= batchesPerVersion)
                    {
                        var batch = pool[seq % pool.Length] with { Version = version, ProducerId = producer, Sequence = ++sent };
                        await PublishAsync(stream, batch);
                    }
                }));
            }
        }

        await WaitForTotalsAsync(silo, model, expectedPerVersion, TimeSpan.FromSeconds(180));
        var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        await Task.WhenAll(publishers);
        return expectedPerVersion * Versions / seconds;
    }

    /// <summary>Diagnostic: the same batches by direct call (router), or their (minute, cell) counts straight to the
    /// 'all' segment grain (segment only), with 4 concurrent callers per version.</summary>
    private enum DirectPath
    {
        Router,
        SegmentCounts,
        SegmentCells,
    }

    /// <summary>Serialized size of what a router sends the segments for <paramref name="batch"/>, in both wire forms.</summary>
    private static (long Cells, long Counts, int Segments) WireBytes(BenchSilo silo, PredictionBatch batch)
    {
        var serializer = silo.Services.GetRequiredService<Orleans.Serialization.Serializer>();
        var width = ConfusionMatrix.Core.RollingConfusionWindows.DefaultEventTimeResolutionTicks;
        var dims = batch.Dimensions.Length;
        var filters = new List<Func<int, bool>> { _ => true };
        for (var d = 0; d < dims; d++)
        {
            foreach (var v in Enumerable.Range(0, batch.Count).Select(i => batch.SegmentValueIndex[(i * dims) + d]).Distinct())
            {
                var (dd, vv) = (d, v);
                filters.Add(i => batch.SegmentValueIndex[(i * dims) + dd] == vv);
            }
        }

        long cellsBytes = 0, countsBytes = 0;
        foreach (var filter in filters)
        {
            var rows = Enumerable.Range(0, batch.Count).Where(filter).ToArray();
            var cells = rows.Select(i => (batch.Actual[i] * 2) + batch.Predicted[i]).ToArray();
            var ticks = rows.Select(i => batch.TimestampUtcTicks[i]).ToArray();
            cellsBytes += serializer.SerializeToArray(new SegmentBatch(batch.BatchId, 2, cells, ticks, "bench-0-0", 12345)).Length;
            var counted = cells.Select((c, j) => (Cell: c, Ticks: ticks[j] - (ticks[j] % width))).GroupBy(e => e).Select(g => (g.Key.Cell, g.Key.Ticks, Count: g.Count())).ToArray();
            countsBytes += serializer.SerializeToArray(new SegmentCounts(
                batch.BatchId, 2, width, [new CountsPart("bench-0-0", 12345, counted.Length)], [.. counted.Select(c => c.Ticks)], [.. counted.Select(c => c.Cell)], [.. counted.Select(c => c.Count)])).Length;
        }

        return (cellsBytes, countsBytes, filters.Count);
    }

    private static async Task<double> MeasureDirectAsync(BenchSilo silo, string model, int batchSize, int total, DirectPath path)
    {
        model = $"{model}-{Guid.NewGuid():N}"[..20];
        await RegisterAsync(silo, model);
        var batchesPerVersion = total / batchSize / Versions;
        var pool = BuildPool(model, batchSize, 16, includeProbe: false);
        // The segment-only path gets what a router sends: pool[0]'s 1000 predictions counted per (minute, cell).
        var width = ConfusionMatrix.Core.RollingConfusionWindows.DefaultEventTimeResolutionTicks;
        var cells = pool[0].Actual.Select((a, i) => (a * 2) + pool[0].Predicted[i]).ToArray();
        var counted = pool[0].Actual
            .Select((a, i) => (Cell: (a * 2) + pool[0].Predicted[i], Ticks: pool[0].TimestampUtcTicks[i] - (pool[0].TimestampUtcTicks[i] % width)))
            .GroupBy(e => e)
            .Select(g => (g.Key.Cell, g.Key.Ticks, Count: g.Count()))
            .ToArray();
        var started = Stopwatch.GetTimestamp();
        var callers = new List<Task>();
        for (var v = 0; v < Versions; v++)
        {
            var version = $"v{v}";
            var router = silo.Client.GetGrain<IVersionRouterGrain>(PredictionLog.VersionKey(model, version));
            var segment = silo.Client.GetGrain<ISegmentMatrixGrain>(Segments.MatrixKey(model, version, Segments.All));
            var next = 0;
            for (var p = 0; p < 4; p++)
            {
                var producer = $"bench-{v}-{p}";
                callers.Add(Task.Run(async () =>
                {
                    long sent = 0;
                    int seq;
                    while ((seq = Interlocked.Increment(ref next)) <= batchesPerVersion)
                    {
                        var batch = pool[seq % pool.Length];
                        if (path == DirectPath.Router)
                        {
                            await router.IngestAsync(batch with { Version = version, ProducerId = producer, Sequence = ++sent });
                        }
                        else if (path == DirectPath.SegmentCells)
                        {
                            await segment.RecordAsync(new SegmentBatch($"s:{seq}", 2, cells, batch.TimestampUtcTicks, producer, ++sent));
                        }
                        else
                        {
                            await segment.RecordCountsAsync(new SegmentCounts(
                                $"s:{seq}", 2, width, [new CountsPart(producer, ++sent, counted.Length)], [.. counted.Select(c => c.Ticks)], [.. counted.Select(c => c.Cell)], [.. counted.Select(c => c.Count)]));
                        }
                    }
                }));
            }
        }

        await Task.WhenAll(callers);
        return (double)batchesPerVersion * batchSize * Versions / Stopwatch.GetElapsedTime(started).TotalSeconds;
    }

    private static async Task PublishAsync(IAsyncStream<PredictionBatch> stream, PredictionBatch batch)
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                await stream.OnNextAsync(batch);
                return;
            }
            catch (Exception) when (attempt < 10_000)
            {
                // Memory stream queue full (back-pressure): wait and retry.
                await Task.Delay(2);
            }
        }
    }

    private static async Task WaitForTotalsAsync(BenchSilo silo, string model, long expectedPerVersion, TimeSpan timeout)
    {
        var grains = Enumerable.Range(0, Versions)
            .Select(v => silo.Client.GetGrain<ISegmentMatrixGrain>(Segments.MatrixKey(model, $"v{v}", Segments.All)))
            .ToArray();
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            var done = true;
            long seen = 0;
            foreach (var grain in grains)
            {
                var view = await grain.GetMatrixAsync(null);
                seen += view.Matrix.Total;
                done &= view.Matrix.Total >= expectedPerVersion;
            }

            if (done)
            {
                return;
            }

            if (deadline.Elapsed > timeout)
            {
                throw new TimeoutException($"{model}: saw {seen} of {expectedPerVersion * Versions} predictions after {timeout}.");
            }

            await Task.Delay(5);
        }
    }

    private static async Task<(double P50, double P99, int Count, double Achieved)> MeasureLatencyAsync(BenchSilo silo, double targetRate, TimeSpan duration)
    {
        const int batchSize = 1000;
        var model = $"lat-{Guid.NewGuid():N}"[..20];
        await RegisterAsync(silo, model);
        var pool = BuildPool(model, batchSize, 16, includeProbe: false);
        var probe = BuildPool(model, batchSize, 1, includeProbe: true)[0];
        var perVersionInterval = TimeSpan.FromSeconds(batchSize * Versions / targetRate);
        using var stop = new CancellationTokenSource();
        long published = 0;
        var loadStarted = Stopwatch.GetTimestamp();

        var load = Enumerable.Range(0, Versions).Select(v => Task.Run(async () =>
        {
            var version = $"v{v}";
            var stream = silo.Stream(model, version);
            var start = Stopwatch.GetTimestamp();
            for (var seq = 1; !stop.IsCancellationRequested; seq++)
            {
                var due = start + (long)(perVersionInterval.TotalSeconds * (seq - 1) * Stopwatch.Frequency);
                var wait = due - Stopwatch.GetTimestamp();
                if (wait > 0)
                {
                    await Task.Delay(TimeSpan.FromSeconds((double)wait / Stopwatch.Frequency));
                }

                await PublishAsync(stream, pool[seq % pool.Length] with { Version = version, Sequence = seq });
                Interlocked.Add(ref published, batchSize);
            }
        })).ToArray();

        // Probes: a normal-sized batch on the loaded v0 stream whose region is "probe"; visible once that segment's
        // all-time total includes it.
        var probeStream = silo.Stream(model, "v0");
        var probeGrain = silo.Client.GetGrain<ISegmentMatrixGrain>(Segments.MatrixKey(model, "v0", Segments.For("region", ProbeRegion)));
        var latencies = new List<double>();
        var probeSeq = 1_000_000;
        long expected = 0;
        var end = Stopwatch.StartNew();
        var first = true;
        while (end.Elapsed < duration)
        {
            expected += batchSize;
            var t0 = Stopwatch.GetTimestamp();
            await PublishAsync(probeStream, probe with { Version = "v0", ProducerId = "bench-probe", Sequence = ++probeSeq });
            while ((await probeGrain.GetMatrixAsync(null)).Matrix.Total < expected)
            {
                await Task.Delay(1);
            }

            var ms = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
            if (!first)
            {
                latencies.Add(ms); // the first probe also activates its segment grain
            }

            first = false;
            await Task.Delay(Math.Max(0, 50 - (int)ms));
        }

        stop.Cancel();
        await Task.WhenAll(load);
        var achieved = Interlocked.Read(ref published) / Stopwatch.GetElapsedTime(loadStarted).TotalSeconds;
        return (Stats.Percentile(latencies, 50), Stats.Percentile(latencies, 99), latencies.Count, achieved);
    }

    private static async Task<(double PerGrain, double Seconds)> MeasureGrainMemoryAsync(BenchSilo silo, int count)
    {
        var model = $"mem{count}";
        var ticks = DateTimeOffset.UtcNow.UtcTicks;
        ticks -= ticks % ConfusionMatrix.Core.RollingConfusionWindows.DefaultEventTimeResolutionTicks;
        int[] cells = [0, 1, 3];
        int[] counts = [2, 1, 2];
        long[] times = [ticks, ticks, ticks];
        var keys = Enumerable.Range(0, count).Select(i => Segments.MatrixKey(model, "v1", $"seg={i}")).ToArray();
        await Task.Delay(500);
        var before = Stats.SettledHeapBytes();
        var sw = Stopwatch.StartNew();
        var next = -1;
        var workers = Enumerable.Range(0, 64).Select(_ => Task.Run(async () =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < count)
            {
                var grain = silo.Client.GetGrain<ISegmentMatrixGrain>(keys[i]);
                await grain.RecordCountsAsync(new SegmentCounts($"m:{i}", 2, ConfusionMatrix.Core.RollingConfusionWindows.DefaultEventTimeResolutionTicks, [new CountsPart("", 0, 3)], times, cells, counts));
            }
        })).ToArray();
        await Task.WhenAll(workers);
        var seconds = sw.Elapsed.TotalSeconds;
        // The segments told their drift watcher about the new evidence with one-way calls; a request to that watcher
        // is queued behind them, so once it answers, those messages are no longer in flight.
        foreach (var watched in keys.Select(k => Segments.ParseMatrixKey(k).Model).Distinct())
        {
            await silo.Client.GetGrain<IDriftWatcherGrain>(watched).GetReportAsync();
        }

        var after = Stats.SettledHeapBytes();
        GC.KeepAlive(keys);
        return ((double)(after - before) / count, seconds);
    }

    private static Task RegisterAsync(BenchSilo silo, string model) =>
        silo.Client.GetGrain<IModelRegistryGrain>(model).RegisterAsync(
            new ModelDefinition(model, [.. Classes], "fraud", [.. Dimensions], DateTimeOffset.UtcNow));

    /// <summary>Distinct pre-built batches (columnar, dictionary-encoded); the publisher stamps version and sequence.</summary>
    private static PredictionBatch[] BuildPool(string model, int batchSize, int distinct, bool includeProbe)
    {
        var random = new Random(7 + batchSize + (includeProbe ? 1 : 0));
        var values = DimensionValues.SelectMany(v => v).ToList();
        if (includeProbe)
        {
            values.Add(ProbeRegion);
        }

        var offsets = new int[Dimensions.Length];
        for (var d = 1; d < Dimensions.Length; d++)
        {
            offsets[d] = offsets[d - 1] + DimensionValues[d - 1].Length;
        }

        var now = DateTimeOffset.UtcNow.UtcTicks;
        var pool = new PredictionBatch[distinct];
        for (var b = 0; b < distinct; b++)
        {
            var actual = new ushort[batchSize];
            var predicted = new ushort[batchSize];
            var ticks = new long[batchSize];
            var segments = new int[batchSize * Dimensions.Length];
            for (var i = 0; i < batchSize; i++)
            {
                var isFraud = random.NextDouble() < 0.1;
                var correct = random.NextDouble() < 0.9;
                actual[i] = (ushort)(isFraud ? 1 : 0);
                predicted[i] = (ushort)(correct ? actual[i] : 1 - actual[i]);
                ticks[i] = now - random.Next(0, 1000) * TimeSpan.TicksPerMillisecond;
                for (var d = 0; d < Dimensions.Length; d++)
                {
                    segments[(i * Dimensions.Length) + d] = offsets[d] + random.Next(DimensionValues[d].Length);
                }

                if (includeProbe)
                {
                    segments[i * Dimensions.Length] = values.Count - 1;
                }
            }

            pool[b] = new PredictionBatch(model, "v0", "bench", 0, [.. Classes], actual, predicted, ticks, [.. Dimensions], [.. values], segments);
        }

        return pool;
    }
}

/// <summary>One in-process silo with the providers of ConfusionMatrixHost, on free localhost ports.</summary>
public sealed class BenchSilo : IAsyncDisposable
{
    private readonly IHost _host;
    private StrongBox<bool> _stopping = new(false);

    private BenchSilo(IHost host)
    {
        _host = host;
        Client = host.Services.GetRequiredService<IClusterClient>();
    }

    public IClusterClient Client { get; }

    public IServiceProvider Services => _host.Services;

    /// <param name="durable">null: memory storage and memory streams; else an Azure Storage connection string for
    /// Azure Table grain storage and Azure Queue streams.</param>
    public static async Task<BenchSilo> StartAsync(string? durable, TimeSpan? pollPeriod = null)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        builder.Logging.AddConsole();
        builder.Logging.SetMinimumLevel(LogLevel.Error);
        // One-way drift notifications still in flight when a silo stops are logged as errors; they are expected here.
        builder.Logging.AddFilter("Orleans.Messaging", LogLevel.None);
        builder.Logging.AddFilter("Orleans.Runtime.Messaging", LogLevel.None);
        builder.Logging.AddFilter("Polly", LogLevel.None);
        // While the silo stops, grains still writing state or sending one-way calls log placement errors: expected.
        var stopping = new StrongBox<bool>(false);
        builder.Logging.AddFilter((_, _, level) => level >= LogLevel.Error && !stopping.Value);
        var serviceId = "cmbench";
        var clusterId = $"cmbench-{Guid.NewGuid():N}"[..16];
        builder.UseOrleans(silo =>
        {
            silo.UseLocalhostClustering(FreePort(), FreePort(), serviceId: serviceId, clusterId: clusterId);

            // Storage and streams exactly as the host wires them for the same configuration.
            ConfusionMatrixHost.AddStorageAndStreams(silo, new ConfusionMatrixOptions
            {
                Clustering = new ClusteringOptions { ServiceId = clusterId, ClusterId = clusterId },
                Storage = durable is null
                    ? new StorageOptions { Provider = StorageProvider.Memory }
                    : new StorageOptions { Provider = StorageProvider.AzureTable, ConnectionString = durable },
                Streams = new StreamsOptions
                {
                    Provider = durable is null ? StreamsProvider.Memory : StreamsProvider.AzureQueue,
                    QueueCount = 8,
                    PollMilliseconds = pollPeriod is { } period ? (int)period.TotalMilliseconds : null,
                },
            });
        });
        builder.Services.AddConfusionMatrixGrainServices();
        var host = builder.Build();
        await host.StartAsync();
        return new BenchSilo(host) { _stopping = stopping };
    }

    public IAsyncStream<PredictionBatch> Stream(string model, string version) =>
        Client.GetStreamProvider(PredictionLog.StreamProvider)
            .GetStream<PredictionBatch>(StreamId.Create(PredictionLog.StreamNamespace, PredictionLog.VersionKey(model, version)));

    public async ValueTask DisposeAsync()
    {
        _stopping.Value = true;
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        try
        {
            await _host.StopAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
        }

        _host.Dispose();
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
