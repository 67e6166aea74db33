using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using ConfusionMatrix.Abstractions;

namespace ConfusionMatrix.Bench;

/// <summary>
/// Part 8: HTTP NDJSON intake on one silo process (embedded memory providers) against the Python peer on the same
/// file in the same run. 200 000 records, 2 versions, 3 segment dimensions; the client posts chunks of 5 000 lines with
/// 2 requests in flight, as a log shipper would. "Acknowledged" is the rate of 202 answers; "counted" waits until both
/// versions' "all" matrices hold every record. Medians of 3 runs.
/// </summary>
public static class HttpNdjsonBench
{
    private const int LinesPerRequest = 5_000;
    private const int InFlight = 2;
    private static readonly string[] Regions = ["EU", "US", "APAC", "LATAM"];
    private static readonly string[] Channels = ["web", "app", "pos"];
    private static readonly string[] Devices = ["ios", "android", "desktop"];

    public static async Task RunAsync(bool quick, string resultsDir, string python, string peerScript)
    {
        var records = quick ? 50_000 : 200_000;
        var dir = Directory.CreateTempSubdirectory("cm-http-bench");
        try
        {
            var file = Path.Combine(dir.FullName, "predictions.ndjson");
            var chunks = Write(file, records);
            var peer = CliEvaluateBench.RunPython(python, peerScript, file, records);

            // The reader alone, on one thread: bytes to checked, dictionary-encoded batches, no HTTP and no cluster.
            var readerOnly = Enumerable.Range(0, 3).Select(_ => ReadOnly(chunks, records)).Order().ElementAt(1);

            var ports = SiloProcesses.FreePorts(3);
            using var silo = StartSilo(ports);
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{ports[0]}/"), Timeout = TimeSpan.FromSeconds(120) };
            await SiloProcesses.WaitReadyAsync(http, silo);

            await RunOnceAsync(http, "httpwarm", chunks, records);
            var runs = new List<(double Acknowledged, double Counted)>();
            for (var run = 0; run < 3; run++)
            {
                runs.Add(await RunOnceAsync(http, $"httpbench{run}", chunks, records));
            }

            var arrays = new List<(double Acknowledged, double Counted)>();
            for (var run = 0; run < 3; run++)
            {
                arrays.Add(await RunOnceAsync(http, $"httparray{run}", chunks, records, array: true));
            }

            silo.Kill(entireProcessTree: true);
            var arrayCounted = arrays.Select(r => r.Counted).Order().ElementAt(1);
            var acknowledged = runs.Select(r => r.Acknowledged).Order().ElementAt(1);
            var counted = runs.Select(r => r.Counted).Order().ElementAt(1);
            var results = new Results(resultsDir, "http");
            results.Set("http_ndjson_ack_rps", acknowledged);
            results.Set("http_ndjson_counted_rps", counted);
            results.Set("http_python_ndjson_rps", peer);
            results.Set("http_vs_python", counted / peer);
            results.Set("http_array_counted_rps", arrayCounted);
            results.Set("http_reader_only_rps", readerOnly);
            results.Save();
            Stats.PrintTable(
                $"Part 8: HTTP NDJSON intake, {records:N0} records, 2 versions, 3 dimensions, {LinesPerRequest:N0} lines per request, {InFlight} in flight (client and silo on {Environment.ProcessorCount} cores)",
                ["path", "rate (median of 3)", "runs", "ratio to Python"],
                [
                    ["silo, acknowledged (202)", Stats.Rate(acknowledged), string.Join(" / ", runs.Select(r => Stats.Rate(r.Acknowledged))), Stats.F(acknowledged / peer, "0.00")],
                    ["silo, counted in both versions' matrices", Stats.Rate(counted), string.Join(" / ", runs.Select(r => Stats.Rate(r.Counted))), Stats.F(counted / peer, "0.00")],
                    ["silo, same records as JSON arrays, counted", Stats.Rate(arrayCounted), string.Join(" / ", arrays.Select(r => Stats.Rate(r.Counted))), Stats.F(arrayCounted / peer, "0.00")],
                    ["intake reader alone, 1 thread (no HTTP, no cluster)", Stats.Rate(readerOnly), "median of 3", Stats.F(readerOnly / peer, "0.00")],
                    ["Python json.loads per line + dicts", Stats.Rate(peer), "1 run", "1.00"],
                ]);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    private static async Task<(double Acknowledged, double Counted)> RunOnceAsync(HttpClient http, string model, List<byte[]> chunks, int records, bool array = false)
    {
        using (var registered = await http.PostAsync("api/v1/models", new StringContent(
            JsonSerializer.Serialize(new { model, classes = new[] { "legit", "fraud" }, positiveClass = "fraud", segmentDimensions = new[] { "region", "channel", "device" } }),
            Encoding.UTF8,
            "application/json")))
        {
            registered.EnsureSuccessStatusCode();
        }

        // The file names model "bench"; each run renames it in the bytes it sends (same length, so chunks stay valid).
        var from = Encoding.UTF8.GetBytes("\"model\":\"bench\"");
        var to = Encoding.UTF8.GetBytes($"\"model\":\"{model}\"");
        var bodies = chunks.Select(c => Replace(c, from, to)).Select(c => array ? ToArray(c) : c).ToList();

        var gate = new SemaphoreSlim(InFlight);
        var started = Stopwatch.GetTimestamp();
        await Task.WhenAll(bodies.Select(async body =>
        {
            await gate.WaitAsync();
            try
            {
                using var content = new ByteArrayContent(body);
                content.Headers.ContentType = new(array ? "application/json" : "application/x-ndjson");
                using var response = await http.PostAsync("api/v1/predictions", content);
                if (response.StatusCode != HttpStatusCode.Accepted)
                {
                    throw new InvalidOperationException($"POST answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
                }
            }
            finally
            {
                gate.Release();
            }
        }));
        var acknowledged = Stopwatch.GetElapsedTime(started).TotalSeconds;

        var until = DateTime.UtcNow + TimeSpan.FromMinutes(3);
        while (await TotalAsync(http, model, "v1") + await TotalAsync(http, model, "v2") < records)
        {
            if (DateTime.UtcNow > until)
            {
                throw new TimeoutException($"{model}: not every record counted within 3 minutes");
            }

            await Task.Delay(20);
        }

        var counted = Stopwatch.GetElapsedTime(started).TotalSeconds;
        return (records / acknowledged, records / counted);
    }

    /// <summary>
    /// The silo's per-record work at the edge, in process: each NDJSON line read by <see cref="PredictionJsonReader"/>
    /// into a batch bound to the model's classes, cut at the silo's default batch size. Records per second.
    /// </summary>
    private static double ReadOnly(List<byte[]> chunks, int records)
    {
        var definition = new ModelDefinition("bench", ["legit", "fraud"], "fraud", ["region", "channel", "device"], DateTimeOffset.UtcNow);
        var reader = new PredictionJsonReader();
        var started = Stopwatch.GetTimestamp();
        var read = 0;
        foreach (var chunk in chunks)
        {
            var builders = new Dictionary<string, PredictionBatchBuilder>(StringComparer.Ordinal);
            var rest = chunk.AsSpan();
            while (!rest.IsEmpty)
            {
                var end = rest.IndexOf((byte)'\n');
                var line = end < 0 ? rest : rest[..end];
                rest = end < 0 ? [] : rest[(end + 1)..];
                var now = DateTimeOffset.UtcNow;
                if (line.IsEmpty || reader.Read(line, now, now) != RecordOutcome.Valid)
                {
                    continue;
                }

                var version = builders.GetAlternateLookup<ReadOnlySpan<char>>();
                if (!version.TryGetValue(reader.Version, out var builder) || builder.Count >= 2000)
                {
                    builder = new PredictionBatchBuilder(definition, new string(reader.Version));
                    builders[builder.Version] = builder;
                }

                builder.AddRow((ushort)builder.FindLabel(reader.Actual), (ushort)builder.FindLabel(reader.Predicted), reader.Timestamp.UtcTicks, new string(reader.PredictionId), reader.Score);
                for (var i = 0; i < reader.SegmentCount; i++)
                {
                    builder.AddSegment(reader.SegmentDimension(i), reader.SegmentValue(i));
                }

                read++;
            }

            foreach (var builder in builders.Values)
            {
                builder.Build("bench", 0);
            }
        }

        if (read != records)
        {
            throw new InvalidOperationException($"the reader took {read} of {records} records");
        }

        return records / Stopwatch.GetElapsedTime(started).TotalSeconds;
    }

    private static async Task<long> TotalAsync(HttpClient http, string model, string version)
    {
        using var doc = JsonDocument.Parse(await http.GetStringAsync($"api/v1/models/{model}/versions/{version}/segments/all/matrix"));
        return doc.RootElement.TryGetProperty("total", out var total) ? total.GetInt64() : 0;
    }

    /// <summary>Writes the NDJSON file and returns it cut into request bodies of whole lines.</summary>
    private static List<byte[]> Write(string file, int records)
    {
        var random = new Random(8);
        var chunks = new List<byte[]>();
        var chunk = new StringBuilder();
        using var writer = new StreamWriter(file, false, new UTF8Encoding(false));
        var now = DateTimeOffset.UtcNow.AddMinutes(-5).ToString("O", CultureInfo.InvariantCulture);
        for (var i = 0; i < records; i++)
        {
            var fraud = random.NextDouble() < 0.05;
            var flagged = fraud ? random.NextDouble() < 0.85 : random.NextDouble() < 0.02;
            var line = $"{{\"predictionId\":\"p{i}\",\"model\":\"bench\",\"version\":\"v{(i % 2) + 1}\",\"predicted\":\"{(flagged ? "fraud" : "legit")}\",\"actual\":\"{(fraud ? "fraud" : "legit")}\",\"timestamp\":\"{now}\",\"segments\":{{\"region\":\"{Regions[random.Next(Regions.Length)]}\",\"channel\":\"{Channels[random.Next(Channels.Length)]}\",\"device\":\"{Devices[random.Next(Devices.Length)]}\"}}}}";
            writer.Write(line);
            writer.Write('\n');
            chunk.Append(line).Append('\n');
            if ((i + 1) % LinesPerRequest == 0 || i == records - 1)
            {
                chunks.Add(Encoding.UTF8.GetBytes(chunk.ToString()));
                chunk.Clear();
            }
        }

        return chunks;
    }

    /// <summary>The same lines as one JSON array.</summary>
    private static byte[] ToArray(byte[] ndjson) =>
        Encoding.UTF8.GetBytes("[" + string.Join(",", Encoding.UTF8.GetString(ndjson).Split('\n', StringSplitOptions.RemoveEmptyEntries)) + "]");

    private static byte[] Replace(byte[] body, byte[] from, byte[] to)
    {
        if (from.Length != to.Length)
        {
            // Different length: fall back to text (only the warm-up and odd names take this path).
            return Encoding.UTF8.GetBytes(Encoding.UTF8.GetString(body).Replace(Encoding.UTF8.GetString(from), Encoding.UTF8.GetString(to), StringComparison.Ordinal));
        }

        var copy = (byte[])body.Clone();
        var span = copy.AsSpan();
        for (var at = span.IndexOf(from); at >= 0;)
        {
            to.CopyTo(span[at..]);
            var next = span[(at + from.Length)..].IndexOf(from);
            at = next < 0 ? -1 : at + from.Length + next;
        }

        return copy;
    }

    private static Process StartSilo(int[] ports)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = AppContext.BaseDirectory };
        foreach (var a in new[]
        {
            Path.Combine(AppContext.BaseDirectory, "ConfusionMatrix.Silo.dll"),
            "--urls", $"http://127.0.0.1:{ports[0]}",
            "--Logging:LogLevel:Default=Warning",
            $"--ConfusionMatrix:Clustering:SiloPort={ports[1]}",
            $"--ConfusionMatrix:Clustering:GatewayPort={ports[2]}",
        })
        {
            start.ArgumentList.Add(a);
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException("dotnet did not start");
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }
}
