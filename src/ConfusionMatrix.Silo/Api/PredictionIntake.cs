using System.Globalization;
using System.Text.Json;
using ConfusionMatrix.Abstractions;
using ConfusionMatrix.Grains;
using ConfusionMatrix.Silo.Configuration;
using Microsoft.Extensions.Options;

namespace ConfusionMatrix.Silo.Api;

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

    public sealed class Session(PredictionIntake owner)
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
            finally
            {
                Index++;
            }
        }

        public async Task<PredictionsResponse> CompleteAsync()
        {
            foreach (var pending in _full.Concat(_builders.Values))
            {
                if (pending.Builder.Count > 0)
                {
                    await FlushAsync(pending);
                }
            }

            return new PredictionsResponse(_accepted, _rejectedCount, _rejections);
        }

        private async ValueTask AddCoreAsync(JsonElement e)
        {
            if (e.ValueKind != JsonValueKind.Object)
            {
                Reject(null, RejectionReasons.Malformed, "a prediction must be a JSON object", null);
                return;
            }

            var id = Text(e, "predictionId");
            if (id is null)
            {
                Reject(null, RejectionReasons.MissingField, "'predictionId' is required", null);
                return;
            }

            if (id.Length > PredictionLimits.MaxIdLength)
            {
                Reject(id[..32] + "…", RejectionReasons.IdTooLong, $"'predictionId' is {id.Length} characters; at most {PredictionLimits.MaxIdLength} are allowed", null);
                return;
            }

            var model = Text(e, "model");
            var version = Text(e, "version");
            var predicted = Text(e, "predicted");
            var actual = Text(e, "actual");
            var missing = model is null ? "model" : version is null ? "version" : predicted is null ? "predicted" : actual is null ? "actual" : null;
            if (missing is not null)
            {
                Reject(id, RejectionReasons.MissingField, $"'{missing}' is required", model);
                return;
            }

            if (!PredictionLimits.IsValidName(model) || !PredictionLimits.IsValidName(version))
            {
                Reject(id, RejectionReasons.BadName, $"'model' and 'version' must be 1..{PredictionLimits.MaxNameLength} characters without '/' or '='", null);
                return;
            }

            var timestamp = owner._clock.GetUtcNow();
            if (e.TryGetProperty("timestamp", out var ts) && ts.ValueKind != JsonValueKind.Null)
            {
                if (ts.ValueKind != JsonValueKind.String
                    || !DateTimeOffset.TryParse(ts.GetString(), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out timestamp))
                {
                    Reject(id, RejectionReasons.BadTimestamp, "'timestamp' must be an ISO-8601 date-time string such as 2026-11-26T10:00:00Z", model);
                    return;
                }

                var now = owner._clock.GetUtcNow();
                if (timestamp < PredictionLimits.MinTimestamp || timestamp > now + PredictionLimits.MaxFutureSkew)
                {
                    Reject(id, RejectionReasons.BadTimestamp, $"'timestamp' {timestamp:O} is before {PredictionLimits.MinTimestamp:yyyy-MM-dd} or more than {PredictionLimits.MaxFutureSkew.TotalMinutes} minutes in the future", model);
                    return;
                }
            }

            var definition = await owner._definitions.GetAsync(model!);
            if (definition is null)
            {
                // The model label stays 'unknown': an unregistered name is caller input and must not mint metric series.
                Reject(id, RejectionReasons.UnknownModel, $"model '{model}' is not registered; POST /api/v1/models first", null);
                return;
            }

            var unknown = definition.ClassIndex(actual!) < 0 ? actual : definition.ClassIndex(predicted!) < 0 ? predicted : null;
            if (unknown is not null)
            {
                Reject(id, RejectionReasons.UnknownClass, $"class '{unknown}' is not one of [{string.Join(", ", definition.Classes)}]", model);
                return;
            }

            List<KeyValuePair<string, string>>? segments = null;
            if (e.TryGetProperty("segments", out var segs) && segs.ValueKind != JsonValueKind.Null)
            {
                if (segs.ValueKind != JsonValueKind.Object)
                {
                    Reject(id, RejectionReasons.Malformed, "'segments' must be an object of dimension to value", model);
                    return;
                }

                foreach (var p in segs.EnumerateObject())
                {
                    var value = p.Value.ValueKind switch
                    {
                        JsonValueKind.String => p.Value.GetString(),
                        JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False => p.Value.GetRawText(),
                        _ => null,
                    };
                    if (string.IsNullOrWhiteSpace(value) || value.Length > PredictionLimits.MaxSegmentValueLength)
                    {
                        Reject(id, RejectionReasons.EmptySegmentValue, $"segment '{p.Name}' needs a non-empty value of at most {PredictionLimits.MaxSegmentValueLength} characters", model);
                        return;
                    }

                    (segments ??= []).Add(new(p.Name, value));
                }
            }

            var key = (model!, version!);
            if (!_builders.TryGetValue(key, out var pending))
            {
                pending = new Pending(new PredictionBatchBuilder(model!, version!), []);
                _builders[key] = pending;
            }

            pending.Builder.Add(actual!, predicted!, timestamp, segments);
            pending.Rows.Add((Index, id));
            if (pending.Builder.Count >= owner._maxBatchSize)
            {
                // Full batches wait until the whole body has been read: a request refused half-way (413, client gone)
                // must publish nothing, or the caller's retry would count those predictions twice.
                _full.Add(pending);
                _builders[key] = new Pending(new PredictionBatchBuilder(model!, version!), []);
            }
        }

        private async Task FlushAsync(Pending pending)
        {
            var count = pending.Builder.Count;
            try
            {
                await owner._publisher.PublishAsync(pending.Builder);
                _accepted += count;
            }
            catch (Exception ex)
            {
                // Not enqueued after retries: these predictions are not acknowledged. Say which, so the caller can resend them.
                Log.PublishFailed(owner._logger, PredictionLog.VersionKey(pending.Builder.Model, pending.Builder.Version), count, ex.Message);
                foreach (var (index, id) in pending.Rows)
                {
                    _rejectedCount++;
                    owner._instruments.Rejected(RejectionReasons.Unavailable, 1, pending.Builder.Model);
                    if (_rejections.Count < MaxListedRejections)
                    {
                        _rejections.Add(new PredictionRejection(index, id, RejectionReasons.Unavailable, "the prediction log could not take it; send it again"));
                    }
                }
            }
        }

        /// <summary>A batch being built and, per prediction in it, its index and id in the request.</summary>
        private sealed record Pending(PredictionBatchBuilder Builder, List<(int Index, string Id)> Rows);

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

        private static string? Text(JsonElement e, string name)
        {
            if (!e.TryGetProperty(name, out var v))
            {
                return null;
            }

            var text = v.ValueKind switch
            {
                JsonValueKind.String => v.GetString(),
                JsonValueKind.Number => v.GetRawText(),
                _ => null,
            };
            return string.IsNullOrEmpty(text) ? null : text;
        }
    }

    public Session Begin() => new(this);
}
