using System.Text.Json;
using ConfusionMatrix.Abstractions;
using ConfusionMatrix.Api.Contracts;
using ConfusionMatrix.Grains;

namespace ConfusionMatrix.Silo.Api;

/// <summary>
/// Turns the labels of one request into one batch per model and hands each to the model's label router, which stores
/// every label in its label-join shard before answering. A bad label gets a rejection with its index and reason and
/// never spoils the good ones beside it. Sending the same labels again changes nothing.
/// </summary>
public sealed class LabelIntake(
    ModelDefinitionCache definitions,
    IGrainFactory grains,
    ConfusionMatrixInstruments instruments,
    ApplicationClock clock,
    ILogger<LabelIntake> logger)
{
    public sealed class Session(LabelIntake owner) : IRecordSession
    {
        private readonly Dictionary<string, (LabelBatchBuilder Builder, List<(int Index, string Id)> Rows)> _builders = new(StringComparer.Ordinal);
        private readonly List<PredictionRejection> _rejections = [];
        private readonly Dictionary<string, int> _outcomes = new(StringComparer.Ordinal);
        private int _rejectedCount;
        private int _accepted;

        public int Index { get; private set; }

        public void Blank() => Index++;

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

        private async ValueTask AddCoreAsync(JsonElement e)
        {
            var now = owner._clock.GetUtcNow();
            if (LabelRecordReader.TryRead(e, now, out var record) is { } problem)
            {
                var rawId = e.ValueKind == JsonValueKind.Object ? PredictionRecordReader.TextOrNull(e, "predictionId") : null;
                var shownId = rawId is { Length: > PredictionLimits.MaxIdLength } ? rawId[..32] + "…" : rawId;
                Reject(shownId, problem.Reason, problem.Detail, null);
                return;
            }

            var definition = await owner._definitions.GetAsync(record!.Model);
            if (definition is null)
            {
                Reject(record.PredictionId, RejectionReasons.UnknownModel, $"model '{record.Model}' is not registered; POST /api/v1/models first", null);
                return;
            }

            if (definition.ClassIndex(record.Actual) < 0)
            {
                Reject(record.PredictionId, RejectionReasons.UnknownClass, $"class '{record.Actual}' is not one of [{string.Join(", ", definition.Classes)}]", record.Model);
                return;
            }

            if (!_builders.TryGetValue(record.Model, out var pending))
            {
                pending = (new LabelBatchBuilder(record.Model), []);
                _builders[record.Model] = pending;
            }

            pending.Builder.Add(record.PredictionId, record.Actual, record.LabelTime, record.Source);
            pending.Rows.Add((Index, record.PredictionId));
        }

        /// <summary>Sends every model's labels; a model whose shards cannot be reached gets its labels back as retryable.</summary>
        public async Task<LabelsResponse> CompleteAsync()
        {
            foreach (var (model, (builder, rows)) in _builders)
            {
                try
                {
                    var result = await owner._grains.GetGrain<ILabelRouterGrain>(model).IngestAsync(builder.Build());
                    if (result.Refused is { } refused)
                    {
                        foreach (var (index, id) in rows)
                        {
                            RejectAt(index, id, RejectionReasons.Malformed, refused, model);
                        }

                        continue;
                    }

                    for (var i = 0; i < rows.Count; i++)
                    {
                        var outcome = result.Outcomes[i];
                        if (outcome == LabelOutcome.UnknownClass)
                        {
                            RejectAt(rows[i].Index, rows[i].Id, RejectionReasons.UnknownClass, "the class is not one of the model's classes", model);
                            continue;
                        }

                        _accepted++;
                        var name = ConfusionMatrixInstruments.OutcomeName(outcome);
                        _outcomes[name] = _outcomes.GetValueOrDefault(name) + 1;
                    }
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    // Not stored: say which labels, so the caller sends them again (a resend is harmless).
                    Log.LabelsUnavailable(owner._logger, model, rows.Count, ex.Message);
                    foreach (var (index, id) in rows)
                    {
                        RejectAt(index, id, RejectionReasons.Unavailable, "the label join could not take it; send it again", model);
                    }
                }
            }

            return new LabelsResponse(_accepted, _rejectedCount, _rejections, _outcomes);
        }

        private void Reject(string? id, string reason, string detail, string? model) => RejectAt(Index, id, reason, detail, model);

        private void RejectAt(int index, string? id, string reason, string detail, string? model)
        {
            _rejectedCount++;
            owner._instruments.Rejected(reason, 1, model, "labels");
            if (_rejections.Count < PredictionIntake.MaxListedRejections)
            {
                _rejections.Add(new PredictionRejection(index, id, reason, detail));
            }

            Log.LabelRejected(owner._logger, index, id ?? "-", reason, detail);
        }
    }

    private readonly ModelDefinitionCache _definitions = definitions;
    private readonly IGrainFactory _grains = grains;
    private readonly ConfusionMatrixInstruments _instruments = instruments;
    private readonly TimeProvider _clock = clock;
    private readonly ILogger _logger = logger;

    public Session Begin() => new(this);
}
