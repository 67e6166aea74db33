using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using ConfusionMatrix.Client;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace ConfusionMatrix.Client.Tests;

/// <summary>A sink that records every attempt, can be held shut by a gate, and can fail its first N attempts.</summary>
internal sealed class RecordingSink : IPredictionSink
{
    private readonly ConcurrentDictionary<string, int> _inFlight = new();
    private readonly List<SinkBatch> _delivered = [];
    private int _failuresLeft;
    private int _maxInFlight;

    public ConcurrentQueue<(SinkBatch Batch, string ProducerId, long Sequence, int Attempt, string[] Ids)> Attempts { get; } = new();

    /// <summary>While set and incomplete, every send waits on it.</summary>
    public TaskCompletionSource? Gate { get; set; }

    /// <summary>Stream keys whose batches are refused permanently.</summary>
    public HashSet<string> Refuse { get; } = [];

    public int MaxInFlightPerStream => Volatile.Read(ref _maxInFlight);

    public void FailNext(int attempts) => Volatile.Write(ref _failuresLeft, attempts);

    public IReadOnlyList<SinkBatch> Delivered
    {
        get
        {
            lock (_delivered)
            {
                return [.. _delivered];
            }
        }
    }

    public int DeliveredPredictions => Delivered.Sum(b => b.Count);

    public async Task SendAsync(SinkBatch batch, CancellationToken cancellationToken)
    {
        Attempts.Enqueue((batch, batch.ProducerId, batch.Sequence, batch.Attempt, [.. batch.Predictions.Select(p => p.PredictionId)]));
        var n = _inFlight.AddOrUpdate(batch.StreamKey, 1, (_, v) => v + 1);
        int seen;
        while (n > (seen = Volatile.Read(ref _maxInFlight)) && Interlocked.CompareExchange(ref _maxInFlight, n, seen) != seen)
        {
        }

        try
        {
            await Task.Yield();
            if (Gate is { } gate)
            {
                await gate.Task.WaitAsync(cancellationToken);
            }

            if (Refuse.Contains(batch.StreamKey))
            {
                throw new NonRetryableSinkException("refused for the test");
            }

            if (Interlocked.Decrement(ref _failuresLeft) >= 0)
            {
                throw new IOException("transient failure for the test");
            }

            lock (_delivered)
            {
                _delivered.Add(batch);
            }
        }
        finally
        {
            _inFlight.AddOrUpdate(batch.StreamKey, 0, (_, v) => v - 1);
        }
    }
}

/// <summary>Collects the client's instruments of one meter factory, one <see cref="MetricCollector{T}"/> per instrument.</summary>
internal sealed class MetricsProbe : IDisposable
{
    private static readonly string[] Counters =
        ["confusionmatrix.client.sent", "confusionmatrix.client.batches", "confusionmatrix.client.retries", "confusionmatrix.client.dropped", "confusionmatrix.client.rejected"];

    private static readonly string[] Gauges = ["confusionmatrix.client.buffered"];

    private readonly ServiceProvider _services;
    private readonly Dictionary<string, MetricCollector<long>> _collectors;

    public MetricsProbe()
    {
        _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        Factory = _services.GetRequiredService<IMeterFactory>();
        _collectors = Counters.Concat(Gauges).ToDictionary(name => name, name => new MetricCollector<long>(Factory, PredictionClientMetrics.MeterName, name));
        Metrics = new PredictionClientMetrics(Factory);
    }

    public IMeterFactory Factory { get; }

    public PredictionClientMetrics Metrics { get; }

    /// <summary>Sum of a counter; with a reason (and source), only measurements tagged so.</summary>
    public long Sum(string name, string? reason = null, string? source = null) =>
        _collectors[name].GetMeasurementSnapshot()
            .Where(m => (reason is null || Tag(m, "reason") == reason) && (source is null || Tag(m, "source") == source))
            .Sum(m => m.Value);

    /// <summary>The gauge's value now, or -1 if it reported nothing.</summary>
    public long Gauge(string name)
    {
        var collector = _collectors[name];
        collector.RecordObservableInstruments();
        return collector.LastMeasurement?.Value ?? -1;
    }

    public void Dispose()
    {
        foreach (var collector in _collectors.Values)
        {
            collector.Dispose();
        }

        _services.Dispose();
    }

    private static string Tag(CollectedMeasurement<long> measurement, string key) =>
        measurement.Tags.TryGetValue(key, out var value) ? value as string ?? "" : "";
}

internal static class Support
{
    public static readonly DateTimeOffset Start = new(2026, 11, 26, 10, 0, 0, TimeSpan.Zero);

    public static PredictionLogger CreateLogger(IPredictionSink sink, TimeProvider time, MetricsProbe probe, Action<PredictionLoggerOptions>? configure = null)
    {
        var options = new PredictionLoggerOptions { ServiceName = "test" };
        configure?.Invoke(options);
        return new PredictionLogger(sink, Options.Create(options), probe.Metrics, NullLogger<PredictionLogger>.Instance, time);
    }

    public static Prediction P(int i, string model = "m", string version = "v1", string? region = null) =>
        new($"id-{i}", model, version, i % 3 == 0 ? "pos" : "neg", i % 2 == 0 ? "pos" : "neg")
        {
            Segments = region is null ? null : new Dictionary<string, string> { ["region"] = region },
        };

    /// <summary>Moves fake time forward in steps until the condition holds (retries and timeouts run on fake time).</summary>
    public static Task DriveUntilAsync(FakeTimeProvider time, TimeSpan step, Func<bool> condition, string what, TimeSpan? deadline = null) =>
        Eventually.TrueAsync(
            () =>
            {
                if (condition())
                {
                    return true;
                }

                time.Advance(step);
                return false;
            },
            what,
            deadline ?? TimeSpan.FromSeconds(20),
            TimeSpan.FromMilliseconds(5));
}
