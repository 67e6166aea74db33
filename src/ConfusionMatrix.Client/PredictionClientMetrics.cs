using System.Diagnostics.Metrics;

namespace ConfusionMatrix.Client;

/// <summary>
/// The client's instruments on the <c>ConfusionMatrix.Actors</c> meter. One per service provider; every logger of
/// the process reports through it and the buffered gauge sums all of them.
/// </summary>
public sealed class PredictionClientMetrics
{
    public const string MeterName = "ConfusionMatrix.Actors";

    /// <summary>Reasons on <c>confusionmatrix.client.dropped</c>.</summary>
    public static class DropReasons
    {
        /// <summary><c>TryLog</c> found the buffer at <see cref="PredictionLoggerOptions.MaxBufferedPredictions"/>.</summary>
        public const string BufferFull = "buffer_full";

        /// <summary>Logged after the logger was disposed.</summary>
        public const string Closed = "closed";

        /// <summary>Still unsent when the drain timeout of disposal ran out.</summary>
        public const string Shutdown = "shutdown";

        /// <summary>The sink refused the batch permanently (<see cref="NonRetryableSinkException"/>).</summary>
        public const string SinkRejected = "sink_rejected";
    }

    private readonly Counter<long> _sent;
    private readonly Counter<long> _batches;
    private readonly Counter<long> _retries;
    private readonly Counter<long> _dropped;
    private readonly Counter<long> _rejected;
    private readonly List<Func<long>> _buffered = [];

    public PredictionClientMetrics(IMeterFactory meterFactory)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        var meter = meterFactory.Create(MeterName);
        _sent = meter.CreateCounter<long>("confusionmatrix.client.sent", "{prediction}", "Predictions whose batch the sink acknowledged.");
        _batches = meter.CreateCounter<long>("confusionmatrix.client.batches", "{batch}", "Batches the sink acknowledged.");
        _retries = meter.CreateCounter<long>("confusionmatrix.client.retries", "{attempt}", "Failed batch sends that will be retried with the same producer id and sequence.");
        _dropped = meter.CreateCounter<long>("confusionmatrix.client.dropped", "{prediction}", "Predictions given up on, by reason.");
        _rejected = meter.CreateCounter<long>("confusionmatrix.client.rejected", "{prediction}", "Predictions refused by validation, by reason (source client or silo).");
        meter.CreateObservableGauge("confusionmatrix.client.buffered", ObserveBuffered, "{prediction}", "Predictions logged but not yet acknowledged by the sink.");
    }

    internal IDisposable RegisterBuffered(Func<long> read)
    {
        lock (_buffered)
        {
            _buffered.Add(read);
        }

        return new Registration(this, read);
    }

    internal void Sent(string model, int predictions)
    {
        var tag = new KeyValuePair<string, object?>("model", model);
        _sent.Add(predictions, tag);
        _batches.Add(1, tag);
    }

    internal void Retry(string model) => _retries.Add(1, new KeyValuePair<string, object?>("model", model));

    internal void Dropped(string reason, string? model, long predictions) =>
        _dropped.Add(predictions, new KeyValuePair<string, object?>("reason", reason), new KeyValuePair<string, object?>("model", model ?? "unknown"));

    /// <summary>Model names are not tagged here: a rejected prediction's model is caller input.</summary>
    internal void Rejected(string reason, string source, long predictions) =>
        _rejected.Add(predictions, new KeyValuePair<string, object?>("reason", reason), new KeyValuePair<string, object?>("source", source));

    private long ObserveBuffered()
    {
        long total = 0;
        lock (_buffered)
        {
            foreach (var read in _buffered)
            {
                total += read();
            }
        }

        return total;
    }

    private sealed class Registration(PredictionClientMetrics owner, Func<long> read) : IDisposable
    {
        public void Dispose()
        {
            lock (owner._buffered)
            {
                owner._buffered.Remove(read);
            }
        }
    }
}
