using System.CommandLine;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Net;
using System.Security.Cryptography;
using System.Text.Json;
using ConfusionMatrix.Abstractions;
using ConfusionMatrix.Cli.Input;
using ConfusionMatrix.Client;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Configuration;

namespace ConfusionMatrix.Cli;

/// <summary>Progress of a backfill, written after every confirmed group of chunks; a resumed run starts at <see cref="NextRecord"/>.</summary>
public sealed record BackfillCheckpoint(string File, long FileLength, string ProducerId, int ChunkSize, long NextRecord, bool Complete, DateTimeOffset UpdatedAt);

/// <summary>
/// <c>cmx backfill</c>: replays a historical prediction log into the cluster through <see cref="PredictionLogger"/> and
/// its grain-call sink. Exactly once across interruptions: the producer id is derived from the file's content, record i
/// belongs to chunk i / chunk-size, and every stream's batch of chunk c carries sequence c + 1 (<see cref="PredictionLogger.CutBatches"/>).
/// A resumed run re-sends from the last checkpoint with the same ids and sequences, and the segments' replay windows
/// drop what they already counted.
/// </summary>
internal static class BackfillCommand
{
    private static readonly JsonSerializerOptions CheckpointJson = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    public static Command Create(CmxConsole console)
    {
        var file = new Argument<string>("FILE") { Description = "Prediction log: NDJSON, CSV or Parquet, in the silo's prediction format." };
        var url = new Option<string>("--url") { Description = "The silo's base URL (its host is the default gateway host).", Required = true };
        var gateway = new Option<string?>("--gateway") { Description = "Orleans gateway host:port (default: the --url host, port 30000)." };
        var clusterId = new Option<string>("--cluster-id") { Description = "Orleans cluster id (ConfusionMatrix:Clustering:ClusterId).", DefaultValueFactory = _ => "confusionmatrix" };
        var serviceId = new Option<string>("--service-id") { Description = "Orleans service id (ConfusionMatrix:Clustering:ServiceId).", DefaultValueFactory = _ => "confusionmatrix" };
        var model = new Option<string?>("--model") { Description = "Model for records that name none." };
        var version = new Option<string?>("--version") { Description = "Version for records that name none." };
        var inputFormat = new Option<string?>("--input-format") { Description = "ndjson, csv or parquet, when the extension does not say." };
        var chunk = new Option<int>("--chunk-size") { Description = "Records per chunk: one batch per stream per chunk, numbered by the chunk.", DefaultValueFactory = _ => 5000 };
        var checkpoint = new Option<string?>("--checkpoint") { Description = "Checkpoint file (default: FILE.cmx-backfill.json)." };
        var restart = new Option<bool>("--restart") { Description = "Ignore an existing checkpoint and replay from the start (records already counted are still skipped by the silo)." };
        var maxRate = new Option<double?>("--max-rate") { Description = "At most this many records per second (spare a busy cluster)." };
        var noProgress = new Option<bool>("--no-progress") { Description = "No progress bar." };

        var command = new Command("backfill", "Replay a historical prediction log into the cluster, resumable and exactly once.")
        {
            file, url, gateway, clusterId, serviceId, model, version, inputFormat, chunk, checkpoint, restart, maxRate, noProgress,
        };
        command.SetAction(async (parse, ct) =>
        {
            var path = Path.GetFullPath(parse.GetValue(file)!);
            var baseUrl = CmxApp.ParseUrl(parse.GetValue(url), "--url");
            var chunkSize = parse.GetValue(chunk);
            if (chunkSize is < 1 or > 100_000)
            {
                throw new CmxException($"--chunk-size must be between 1 and 100000 (got {chunkSize})");
            }

            if (!File.Exists(path))
            {
                throw new CmxException($"no such file: {path}");
            }

            var endpoint = await ResolveGatewayAsync(parse.GetValue(gateway), baseUrl, ct);
            var checkpointPath = parse.GetValue(checkpoint) ?? path + ".cmx-backfill.json";
            var length = new FileInfo(path).Length;
            var producerId = await ProducerIdAsync(path, length, ct);
            long start = 0;
            if (!parse.GetValue(restart) && File.Exists(checkpointPath))
            {
                var saved = JsonSerializer.Deserialize<BackfillCheckpoint>(await File.ReadAllTextAsync(checkpointPath, ct), CheckpointJson)
                    ?? throw new CmxException($"checkpoint {checkpointPath} is empty; delete it or pass --restart");
                if (saved.FileLength != length || saved.ProducerId != producerId || saved.ChunkSize != chunkSize)
                {
                    throw new CmxException($"checkpoint {checkpointPath} belongs to another file or chunk size ({saved.File}, {saved.FileLength} bytes, chunk size {saved.ChunkSize}); pass --restart or another --checkpoint");
                }

                if (saved.Complete)
                {
                    await console.Error.WriteLineAsync($"{path} was backfilled completely ({saved.NextRecord} records, {saved.UpdatedAt:O}); nothing to do (--restart replays it, and the silo skips what it counted)");
                    return ExitCodes.Ok;
                }

                start = saved.NextRecord;
                await console.Error.WriteLineAsync($"resuming {path} at record {start} (checkpoint {checkpointPath})");
            }

            var run = new BackfillRun(console, path, checkpointPath, length, producerId, chunkSize, parse.GetValue(model), parse.GetValue(version), parse.GetValue(maxRate), !parse.GetValue(noProgress));
            return await run.ExecuteAsync(endpoint, parse.GetValue(clusterId)!, parse.GetValue(serviceId)!, parse.GetValue(inputFormat), start, ct);
        });
        return command;
    }

    /// <summary>Same file content, same producer: a re-run of the same log is recognised by the silo as a replay.</summary>
    internal static async Task<string> ProducerIdAsync(string path, long length, CancellationToken cancellationToken)
    {
        await using var stream = File.OpenRead(path);
        var head = new byte[(int)Math.Min(length, 1 << 20)];
        await stream.ReadExactlyAsync(head, cancellationToken);
        var hash = SHA256.HashData([.. BitConverter.GetBytes(length), .. head]);
        return "cmx-backfill-" + Convert.ToHexStringLower(hash.AsSpan(0, 12));
    }

    private static async Task<IPEndPoint> ResolveGatewayAsync(string? gateway, Uri url, CancellationToken cancellationToken)
    {
        var text = gateway ?? $"{url.Host}:30000";
        var colon = text.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(text[(colon + 1)..], out var port) || port is < 1 or > 65535)
        {
            throw new CmxException($"--gateway must be host:port (got '{text}')");
        }

        var host = text[..colon].Trim('[', ']');
        if (IPAddress.TryParse(host, out var address))
        {
            return new IPEndPoint(address, port);
        }

        try
        {
            var addresses = await Dns.GetHostAddressesAsync(host, cancellationToken);
            return new IPEndPoint(addresses.First(), port);
        }
        catch (Exception ex) when (ex is System.Net.Sockets.SocketException or InvalidOperationException)
        {
            throw new CmxException($"cannot resolve gateway host '{host}': {ex.Message}");
        }
    }

    private sealed class BackfillRun(
        CmxConsole console,
        string path,
        string checkpointPath,
        long fileLength,
        string producerId,
        int chunkSize,
        string? defaultModel,
        string? defaultVersion,
        double? maxRate,
        bool progress)
    {
        /// <summary>Chunks between confirmed checkpoints: a resumed run re-sends at most this many (the silo skips them).</summary>
        private const int ChunksPerCheckpoint = 20;

        private readonly Dictionary<string, long> _rejected = new(StringComparer.Ordinal);
        private long _sent;
        private long _dropped;
        private long _siloRejected;
        private long _retries;

        public async Task<int> ExecuteAsync(IPEndPoint gateway, string clusterId, string serviceId, string? inputFormat, long start, CancellationToken ct)
        {
            var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
            builder.Logging.AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(LogLevel.Warning);
            builder.Logging.AddFilter("Orleans", LogLevel.Error);

            // A failed start is reported once, as a CmxException, not also as the host's stack trace.
            builder.Logging.AddFilter("Microsoft.Extensions.Hosting", LogLevel.None);
            builder.UseOrleansClient(client =>
            {
                client.UseStaticClustering(gateway);
                client.Configure<ClusterOptions>(o =>
                {
                    o.ClusterId = clusterId;
                    o.ServiceId = serviceId;
                });
            });
            builder.Services.AddPredictionLogger<OrleansGrainCallSink>(o =>
            {
                o.ServiceName = "cmx-backfill";
                o.ProducerId = producerId;
                o.BatchSize = chunkSize;
                o.BatchInterval = TimeSpan.FromMinutes(5);
                o.MaxBufferedPredictions = chunkSize * (ChunksPerCheckpoint + 1);
                o.DrainTimeout = TimeSpan.FromMinutes(5);
            });
            using var listener = Listen();
            using var host = builder.Build();
            try
            {
                await host.StartAsync(ct);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                throw new CmxException($"cannot connect to the Orleans gateway {gateway} (cluster {clusterId}, service {serviceId}): {ex.Message}");
            }

            var logger = host.Services.GetRequiredService<PredictionLogger>();
            var clock = Stopwatch.StartNew();
            var next = start;
            long records = 0;
            var lastDraw = TimeSpan.Zero;
            try
            {
                var format = PredictionFileReader.DetectFormat(path, inputFormat);
                await using var reader = await PredictionFileReader.OpenAsync(path, format, keepDetails: true, ct);
                await reader.SkipAsync(start, ct);
                var block = new RowBlock();
                var chunk = start / chunkSize;
                logger.CutBatches(chunk + 1);
                while (await reader.ReadAsync(block, ct))
                {
                    for (var i = 0; i < block.Count; i++)
                    {
                        var position = block.Rows[i].Position;
                        var rowChunk = position / chunkSize;
                        if (rowChunk != chunk)
                        {
                            chunk = rowChunk;
                            logger.CutBatches(chunk + 1);
                            if (chunk % ChunksPerCheckpoint == 0)
                            {
                                await ConfirmAsync(logger, chunk * chunkSize, complete: false, ct);
                            }
                        }

                        Send(logger, block, in block.Rows[i]);
                        next = position + 1;
                        records++;
                    }

                    if (maxRate is { } rate && rate > 0)
                    {
                        var ahead = TimeSpan.FromSeconds(records / rate) - clock.Elapsed;
                        if (ahead > TimeSpan.Zero)
                        {
                            await Task.Delay(ahead, ct);
                        }
                    }

                    if (progress && clock.Elapsed - lastDraw > TimeSpan.FromMilliseconds(500))
                    {
                        lastDraw = clock.Elapsed;
                        Draw(next, records, clock.Elapsed);
                    }
                }
            }
            catch (Exception ex) when (ex is FormatException or IOException or Parquet.ParquetException)
            {
                throw new CmxException($"cannot read {path}: {ex.Message}");
            }

            await ConfirmAsync(logger, next, complete: true, ct);
            await logger.DisposeAsync();
            await host.StopAsync(CancellationToken.None);
            if (progress)
            {
                Draw(next, records, clock.Elapsed);
                await console.Error.WriteLineAsync();
            }

            var rejectedText = _rejected.Count == 0 ? "" : $", {_rejected.Values.Sum()} refused before sending ({string.Join(", ", _rejected.Select(r => $"{r.Key} {r.Value}"))})";
            await console.Out.WriteLineAsync(
                $"backfilled {path}: records {start}..{next} ({records} read), {Interlocked.Read(ref _sent)} acknowledged{rejectedText}, {Interlocked.Read(ref _siloRejected)} refused by the silo, {Interlocked.Read(ref _dropped)} dropped, {Interlocked.Read(ref _retries)} retries; " +
                $"{clock.Elapsed.TotalSeconds:0.0} s, {records / Math.Max(clock.Elapsed.TotalSeconds, 1e-9):0} records/s; producer {producerId}");
            return Interlocked.Read(ref _dropped) > 0 ? ExitCodes.Failed : ExitCodes.Ok;
        }

        private void Send(PredictionLogger logger, RowBlock block, in PredictionRow row)
        {
            if (row.Error is not null)
            {
                Reject(RejectionReasons.Malformed);
                return;
            }

            var segments = block.SegmentsOf(row);
            Dictionary<string, string>? map = null;
            if (segments.Length > 0)
            {
                map = new Dictionary<string, string>(segments.Length, StringComparer.Ordinal);
                foreach (var (dimension, value) in segments)
                {
                    map[dimension] = value;
                }
            }

            var prediction = new Prediction(
                row.PredictionId ?? $"{producerId}-{row.Position}",
                row.Model ?? defaultModel ?? "",
                row.Version ?? defaultVersion ?? "",
                row.Predicted ?? "",
                row.Actual ?? "")
            {
                Timestamp = row.Timestamp,
                Score = row.Score,
                Segments = map,
            };
            if (PredictionValidator.Validate(prediction, DateTimeOffset.UtcNow) is { } reason)
            {
                Reject(reason);
                return;
            }

            // The buffer holds every chunk since the last confirmed checkpoint, so this never finds it full.
            if (!logger.TryLog(prediction))
            {
                Interlocked.Increment(ref _dropped);
            }
        }

        private void Reject(string reason) => _rejected[reason] = _rejected.GetValueOrDefault(reason) + 1;

        private async Task ConfirmAsync(PredictionLogger logger, long nextRecord, bool complete, CancellationToken ct)
        {
            // Everything before nextRecord is acknowledged by the cluster (or refused for good) once the flush returns.
            await logger.FlushAsync(ct);
            var saved = new BackfillCheckpoint(path, fileLength, producerId, chunkSize, nextRecord, complete, DateTimeOffset.UtcNow);
            var temporary = checkpointPath + ".tmp";
            await File.WriteAllTextAsync(temporary, JsonSerializer.Serialize(saved, CheckpointJson), ct);
            File.Move(temporary, checkpointPath, overwrite: true);
        }

        private void Draw(long position, long records, TimeSpan elapsed)
        {
            var rate = records / Math.Max(elapsed.TotalSeconds, 1e-9);
            var line = $"record {position}, {Interlocked.Read(ref _sent)} acknowledged, {rate:0} records/s";
            if (!Console.IsErrorRedirected)
            {
                console.Error.Write($"\r{line}   ");
            }
            else
            {
                console.Error.WriteLine(line);
            }
        }

        private MeterListener Listen()
        {
            var listener = new MeterListener
            {
                InstrumentPublished = (instrument, l) =>
                {
                    if (instrument.Meter.Name == PredictionClientMetrics.MeterName && instrument.Name.StartsWith("confusionmatrix.client.", StringComparison.Ordinal))
                    {
                        l.EnableMeasurementEvents(instrument);
                    }
                },
            };
            listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
            {
                switch (instrument.Name)
                {
                    case "confusionmatrix.client.sent":
                        Interlocked.Add(ref _sent, value);
                        break;
                    case "confusionmatrix.client.dropped":
                        Interlocked.Add(ref _dropped, value);
                        break;
                    case "confusionmatrix.client.retries":
                        Interlocked.Add(ref _retries, value);
                        break;
                    case "confusionmatrix.client.rejected":
                        foreach (var tag in tags)
                        {
                            if (tag.Key == "source" && "silo".Equals(tag.Value))
                            {
                                Interlocked.Add(ref _siloRejected, value);
                            }
                        }

                        break;
                }
            });
            listener.Start();
            return listener;
        }
    }
}
