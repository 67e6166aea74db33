using System.Buffers;
using System.Runtime.InteropServices;
using System.Text.Json;
using ConfusionMatrix.Abstractions;
using ConfusionMatrix.Api.Contracts;
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

    /// <summary>
    /// One request's predictions, read from their UTF-8 bytes (<see cref="PredictionJsonReader"/>) straight into
    /// batches bound to the model's registration: the definition is looked up once per model per request, and rows are
    /// added by class index and dictionary-encoded names, so a batch leaves here checked and the router trusts it.
    /// </summary>
    public sealed class Session(PredictionIntake owner)
    {
        private readonly PredictionJsonReader _reader = new();
        private readonly List<KnownModel> _models = [];
        private readonly List<Pending> _open = [];
        private readonly List<PredictionRejection> _rejections = [];
        private readonly List<Pending> _full = [];
        private readonly Dictionary<(string Reason, string? Model), int> _uncounted = [];
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

        /// <summary>
        /// Reads one JSON value (an array element or an NDJSON line) as a prediction. Returns null when it was taken
        /// (added, or refused with its index and reason); otherwise the model whose registration must first be looked up
        /// with <see cref="LoadDefinitionAsync"/>, after which the same value is read again (once per model per request).
        /// </summary>
        public string? TryAdd(in ReadOnlySequence<byte> json, bool line)
        {
            if (json.IsSingleSegment)
            {
                return TryAdd(json.FirstSpan, line);
            }

            var length = checked((int)json.Length);
            var rented = ArrayPool<byte>.Shared.Rent(length);
            try
            {
                json.CopyTo(rented);
                return TryAdd(rented.AsSpan(0, length), line);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }

        /// <inheritdoc cref="TryAdd(in ReadOnlySequence{byte}, bool)"/>
        public string? TryAdd(ReadOnlySpan<byte> json, bool line)
        {
            var now = owner._clock.GetUtcNow();
            var r = _reader;
            switch (r.Read(json, now, now))
            {
                case RecordOutcome.NotJson:
                    Malformed(line ? $"line is not valid JSON: {r.JsonError}" : $"element is not valid JSON: {r.JsonError}");
                    return null;
                case RecordOutcome.Rejected:
                    return RejectRead();
            }

            var known = Find(r.Model);
            if (known is null)
            {
                return new string(r.Model);
            }

            var definition = known.Definition;
            if (definition is null)
            {
                // The model label stays 'unknown': an unregistered name is caller input and must not mint metric series.
                Reject(new string(r.PredictionId), RejectionReasons.UnknownModel, $"model '{known.Model}' is not registered; POST /api/v1/models first", null);
                Index++;
                return null;
            }

            var actual = r.HasActual ? known.ClassIndex(r.Actual) : PredictionBatch.NoActual;
            var predicted = known.ClassIndex(r.Predicted);
            if (actual < 0 || predicted < 0)
            {
                var unknown = actual < 0 ? r.Actual : r.Predicted;
                Reject(new string(r.PredictionId), RejectionReasons.UnknownClass, $"class '{unknown}' is not one of [{string.Join(", ", definition.Classes)}]", known.Model);
                Index++;
                return null;
            }

            var pending = Open(known, r.Version);
            var id = new string(r.PredictionId);
            var builder = pending.Builder;
            builder.AddRow((ushort)actual, (ushort)predicted, r.Timestamp.UtcTicks, id, r.Score);
            for (var i = 0; i < r.SegmentCount; i++)
            {
                builder.AddSegment(r.SegmentDimension(i), r.SegmentValue(i));
            }

            pending.Rows.Add((Index, id));
            Index++;
            if (builder.Count >= owner._maxBatchSize)
            {
                // Full batches wait until the whole body has been read: a request refused half-way (413, client gone)
                // must publish nothing, or the caller's retry would count those predictions twice.
                _full.Add(pending);
                _open[_open.IndexOf(pending)] = new Pending(known, new PredictionBatchBuilder(definition, builder.Version), []);
            }

            return null;
        }

        /// <summary>Looks up a model's registration for the rest of the request (null: not registered).</summary>
        public async ValueTask LoadDefinitionAsync(string model)
        {
            var definition = await owner._definitions.GetAsync(model);
            _models.Add(new KnownModel(model, definition));
        }

        private string? RejectRead()
        {
            var r = _reader;

            // The model names the metric series only when it is registered: caller input must not mint series.
            string? registered = null;
            if (r.RawModel is { } rawModel && PredictionLimits.IsValidName(rawModel))
            {
                var known = Find(rawModel);
                if (known is null)
                {
                    return rawModel;
                }

                registered = known.Definition is not null ? known.Model : null;
            }

            Reject(r.ShownId, r.Problem.Reason, r.Problem.Detail, registered);
            Index++;
            return null;
        }

        private KnownModel? Find(ReadOnlySpan<char> model)
        {
            foreach (var known in _models)
            {
                if (model.SequenceEqual(known.Model))
                {
                    return known;
                }
            }

            return null;
        }

        private Pending Open(KnownModel known, ReadOnlySpan<char> version)
        {
            foreach (var pending in _open)
            {
                if (ReferenceEquals(pending.Known, known) && version.SequenceEqual(pending.Builder.Version))
                {
                    return pending;
                }
            }

            var opened = new Pending(known, new PredictionBatchBuilder(known.Definition!, new string(version)), []);
            _open.Add(opened);
            return opened;
        }

        /// <summary>Batches the request will publish; the same for the same body (batches are cut in reading order).</summary>
        public int BatchCount => _full.Count + _open.Count(p => p.Builder.Count > 0);

        /// <summary>
        /// Publishes every batch; with <paramref name="numbering"/> (a keyed request) as that producer, numbered from its
        /// first sequence in batch order, so a retry of the same body publishes the same numbered batches.
        /// </summary>
        public async Task<PredictionsResponse> CompleteAsync((string ProducerId, long FirstSequence)? numbering = null)
        {
            var sequence = numbering?.FirstSequence ?? 0;
            foreach (var pending in _full.Concat(_open))
            {
                if (pending.Builder.Count > 0)
                {
                    await FlushAsync(pending, numbering is { } n ? (n.ProducerId, sequence++) : null);
                }
            }

            return new PredictionsResponse(_accepted, _rejectedCount, _rejections);
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
        private sealed record Pending(KnownModel Known, PredictionBatchBuilder Builder, List<(int Index, string Id)> Rows);

        /// <summary>A model named in the request and its registration (null: not registered), with its classes by name.</summary>
        private sealed class KnownModel
        {
            private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _classes;

            public KnownModel(string model, ModelDefinition? definition)
            {
                Model = model;
                Definition = definition;
                var classes = new Dictionary<string, int>(StringComparer.Ordinal);
                for (var i = 0; i < (definition?.Classes.Length ?? 0); i++)
                {
                    classes[definition!.Classes[i]] = i;
                }

                _classes = classes.GetAlternateLookup<ReadOnlySpan<char>>();
            }

            public string Model { get; }

            public ModelDefinition? Definition { get; }

            public int ClassIndex(ReadOnlySpan<char> name) => _classes.TryGetValue(name, out var index) ? index : -1;
        }

        /// <summary>
        /// The whole body has been read and is accepted as a request: its refused records are counted now. A body that
        /// turns out not to be JSON half-way is refused whole, and none of its records counts as refused.
        /// </summary>
        public void BodyRead()
        {
            foreach (var ((reason, model), count) in _uncounted)
            {
                owner._instruments.Rejected(reason, count, model);
            }

            _uncounted.Clear();
        }

        private void Reject(string? id, string reason, string detail, string? model)
        {
            _rejectedCount++;
            CollectionsMarshal.GetValueRefOrAddDefault(_uncounted, (reason, model), out _)++;
            if (_rejections.Count < MaxListedRejections)
            {
                _rejections.Add(new PredictionRejection(Index, id, reason, detail));
            }

            Log.PredictionRejected(owner._logger, Index, id ?? "-", reason, detail);
        }
    }

    public Session Begin() => new(this);
}
