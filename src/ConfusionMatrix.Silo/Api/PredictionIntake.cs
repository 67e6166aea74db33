using System.Globalization;
using System.Text.Json;
using ConfusionMatrix.Abstractions;
using ConfusionMatrix.Grains;
using ConfusionMatrix.Silo.Configuration;
using Microsoft.Extensions.Options;

namespace ConfusionMatrix.Silo.Api;

/// <summary>One request's records as they are read, one JSON value (array element or NDJSON line) at a time.</summary>
public interface IRecordSession
{
    /// <summary>A blank NDJSON line; indexes stay line numbers.</summary>
    void Blank();

    /// <summary>A line or element that was not valid JSON.</summary>
    void Malformed(string detail);

    Task AddAsync(JsonElement element);
}

/// <summary>
/// Turns the predictions of one request into stream batches. Each prediction is checked on its own: a bad one gets a
/// rejection with its index and reason, and never spoils the good ones beside it.
/// </summary>
public sealed class PredictionIntake(
    ModelDefinitionCache definitions,
    PredictionPublisher publisher,
    ConfusionMatrixInstruments instruments,
    ApplicationClock clock,
    IOptions<ConfusionMatrixOptions> options,
    ILogger<PredictionIntake> logger)
{
    /// <summary>Rejections listed in one answer; the count covers all of them.</summary>
    internal const int MaxListedRejections = 1000;

    private readonly int _maxBatchSize = options.Value.Api.MaxBatchSize;
    private readonly ModelDefinitionCache _definitions = definitions;
    private readonly PredictionPublisher _publisher = publisher;
    private readonly ConfusionMatrixInstruments _instruments = instruments;
    private readonly TimeProvider _clock = clock;
    private readonly ILogger _logger = logger;

    public sealed class Session(PredictionIntake owner) : IRecordSession
    {
        private readonly Dictionary<(string Model, string Version), Pending> _builders = [];
        private readonly List<PredictionRejection> _rejections = [];
        private readonly List<Pending> _full = [];
        private int _rejectedCount;
        private int _accepted;

        public int Index { get; private set; }

        /// <summary>Skips a blank NDJSON line; indexes stay line numbers.</summary>
        public void Blank() => Index++;

        /// <summary>Records a line or element that was not valid JSON.</summary>
        public void Malformed(string detail)
        {
            Reject(null, RejectionReasons.Malformed, detail, null);
            Index++;
        }

        public async Task AddAsync(JsonElement element)
        {
            try
            {
                await AddCoreAsync(element);
            }
            catch (InvalidOperationException ex) when (ex.InnerException is System.Text.EncoderFallbackException or System.Text.DecoderFallbackException || ex.Message.Contains("UTF", StringComparison.Ordinal))
            {
                // A JSON string escape that is not valid Unicode (a lone surrogate such as "\ud800") cannot be read as text.
                Reject(null, RejectionReasons.Malformed, $"a string is not valid Unicode ({ex.Message})", null);
            }
            finally
            {
                Index++;
            }
        }

        /// <summary>Batches the request will publish; the same for the same body (batches are cut in reading order).</summary>
        public int BatchCount => _full.Count + _builders.Values.Count(p => p.Builder.Count > 0);

        /// <summary>
        /// Publishes every batch; with <paramref name="numbering"/> (a keyed request) as that producer, numbered from its
        /// first sequence in batch order, so a retry of the same body publishes the same numbered batches.
        /// </summary>
        public async Task<PredictionsResponse> CompleteAsync((string ProducerId, long FirstSequence)? numbering = null)
        {
            var sequence = numbering?.FirstSequence ?? 0;
            foreach (var pending in _full.Concat(_builders.Values))
            {
                if (pending.Builder.Count > 0)
                {
                    await FlushAsync(pending, numbering is { } n ? (n.ProducerId, sequence++) : null);
                }
            }

            return new PredictionsResponse(_accepted, _rejectedCount, _rejections);
        }

        private async ValueTask AddCoreAsync(JsonElement e)
        {
            var now = owner._clock.GetUtcNow();
            if (PredictionRecordReader.TryRead(e, now, now, out var record) is { } problem)
            {
                var rawId = e.ValueKind == JsonValueKind.Object ? PredictionRecordReader.TextOrNull(e, "predictionId") : null;
                var shownId = rawId is { Length: > PredictionLimits.MaxIdLength } ? rawId[..32] + "…" : rawId;
                var rawModel = e.ValueKind == JsonValueKind.Object ? PredictionRecordReader.TextOrNull(e, "model") : null;
                Reject(shownId, problem.Reason, problem.Detail, await RegisteredOrNullAsync(rawModel));
                return;
            }

            var (id, model, version, actual, predicted) = (record!.PredictionId, record.Model, record.Version, record.Actual, record.Predicted);
            var definition = await owner._definitions.GetAsync(model);
            if (definition is null)
            {
                // The model label stays 'unknown': an unregistered name is caller input and must not mint metric series.
                Reject(id, RejectionReasons.UnknownModel, $"model '{model}' is not registered; POST /api/v1/models first", null);
                return;
            }

            var unknown = actual is not null && definition.ClassIndex(actual) < 0 ? actual : definition.ClassIndex(predicted) < 0 ? predicted : null;
            if (unknown is not null)
            {
                Reject(id, RejectionReasons.UnknownClass, $"class '{unknown}' is not one of [{string.Join(", ", definition.Classes)}]", model);
                return;
            }

            var timestamp = record.Timestamp;
            var segments = record.Segments;
            var key = (model, version);
            if (!_builders.TryGetValue(key, out var pending))
            {
                pending = new Pending(new PredictionBatchBuilder(model, version), []);
                _builders[key] = pending;
            }

            pending.Builder.Add(actual, predicted, timestamp, segments, id, record.Score);
            pending.Rows.Add((Index, id));
            if (pending.Builder.Count >= owner._maxBatchSize)
            {
                // Full batches wait until the whole body has been read: a request refused half-way (413, client gone)
                // must publish nothing, or the caller's retry would count those predictions twice.
                _full.Add(pending);
                _builders[key] = new Pending(new PredictionBatchBuilder(model, version), []);
            }
        }

        private async Task FlushAsync(Pending pending, (string ProducerId, long Sequence)? numbered)
        {
            var count = pending.Builder.Count;
            try
            {
                if (numbered is { } n)
                {
                    await owner._publisher.PublishAsync(pending.Builder, n.ProducerId, n.Sequence);
                }
                else
                {
                    await owner._publisher.PublishAsync(pending.Builder);
                }

                _accepted += count;
            }
            catch (Exception ex)
            {
                // Not enqueued after retries: these predictions are not acknowledged. Say which, so the caller can resend them.
                Log.PublishFailed(owner._logger, PredictionLog.VersionKey(pending.Builder.Model, pending.Builder.Version), count, ex.Message);
                foreach (var (index, id) in pending.Rows)
                {
                    _rejectedCount++;
                    owner._instruments.Rejected(RejectionReasons.Unavailable, 1, pending.Builder.Model, version: pending.Builder.Version);
                    if (_rejections.Count < MaxListedRejections)
                    {
                        _rejections.Add(new PredictionRejection(index, id, RejectionReasons.Unavailable, "the prediction log could not take it; send it again"));
                    }
                }
            }
        }

        /// <summary>A batch being built and, per prediction in it, its index and id in the request.</summary>
        private sealed record Pending(PredictionBatchBuilder Builder, List<(int Index, string Id)> Rows);

        /// <summary>The model name if it is registered (a metric label), else null: caller input must not mint series.</summary>
        private async ValueTask<string?> RegisteredOrNullAsync(string? model) =>
            PredictionLimits.IsValidName(model) && await owner._definitions.GetAsync(model!) is not null ? model : null;

        private void Reject(string? id, string reason, string detail, string? model)
        {
            _rejectedCount++;
            owner._instruments.Rejected(reason, 1, model);
            if (_rejections.Count < MaxListedRejections)
            {
                _rejections.Add(new PredictionRejection(Index, id, reason, detail));
            }

            Log.PredictionRejected(owner._logger, Index, id ?? "-", reason, detail);
        }
    }

    public Session Begin() => new(this);
}
