using System.Collections.Immutable;
using System.Diagnostics;
using ConfusionMatrix.Abstractions;
using ConfusionMatrix.Core;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Streams;

namespace ConfusionMatrix.Grains;

/// <summary>
/// Receives a model version's prediction batches (from its prediction-log stream, or by direct call), validates each
/// prediction against the registry, maps class names to indices once per batch, and splits the batch into the
/// <c>all</c> segment plus one sub-batch per <c>dimension=value</c>. Every segment call is awaited before the batch
/// counts as handled, so a stream delivery is only acknowledged after all segments applied it.
/// </summary>
[ImplicitStreamSubscription(PredictionLog.StreamNamespace)]
public sealed class VersionRouterGrain(
    ConfusionMatrixInstruments instruments,
    ApplicationClock clock,
    IOptions<LabelJoinOptions> labelOptions,
    ILogger<VersionRouterGrain> logger) : Grain, IVersionRouterGrain
{
    /// <summary>How long a cached registry entry is trusted before a batch re-reads it.</summary>
    internal static readonly TimeSpan DefinitionRefreshInterval = TimeSpan.FromSeconds(5);

    private readonly HashSet<string> _reportedSegments = new(StringComparer.Ordinal);
    private string _model = "";
    private string _version = "";
    private ModelDefinition? _definition;
    private DateTimeOffset _definitionReadAt = DateTimeOffset.MinValue;

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        (_model, _version) = PredictionLog.ParseVersionKey(this.GetPrimaryKeyString());
        var provider = this.GetStreamProvider(PredictionLog.StreamProvider);
        var stream = provider.GetStream<PredictionBatch>(StreamId.Create(PredictionLog.StreamNamespace, this.GetPrimaryKeyString()));
        await stream.SubscribeAsync(OnBatchesAsync);
    }

    public async Task<IngestResult> IngestAsync(PredictionBatch batch) => (await RouteAsync([batch]))[0];

    /// <summary>
    /// The pulling agent may hand over several queued batches at once (<c>BatchContainerBatchSize</c>). They are split
    /// one by one and sent to each segment in a single call, each batch a part with its own producer and sequence, so
    /// a segment applies and stores all of them in one write, and still skips any part it has seen before.
    /// </summary>
    private async Task OnBatchesAsync(IList<SequentialItem<PredictionBatch>> items)
    {
        var batches = new PredictionBatch[items.Count];
        for (var i = 0; i < items.Count; i++)
        {
            batches[i] = items[i].Item;
        }

        await RouteAsync(batches);
    }

    private async Task<IngestResult[]> RouteAsync(IReadOnlyList<PredictionBatch> batches)
    {
        var started = Stopwatch.GetTimestamp();
        using var activity = StartRouteActivity(batches);
        var results = new IngestResult[batches.Count];
        var merged = new Dictionary<string, SegmentParts>(StringComparer.Ordinal);
        var pendingByShard = new Dictionary<int, PendingShardBuilder>();
        var pendingSegments = new HashSet<string>(StringComparer.Ordinal);
        var classCount = 0;
        var accepted = 0;
        for (var b = 0; b < batches.Count; b++)
        {
            var batch = batches[b];
            var shapeProblem = batch.ValidateShape();
            if (shapeProblem is not null || batch.Model != _model || batch.Version != _version)
            {
                // A poison batch must not stop the stream: refuse it whole, count it, and say why.
                var problem = shapeProblem ?? $"batch names {batch.Model}/{batch.Version} but arrived on {_model}/{_version}";
                var count = batch.Actual?.Length ?? 0;
                Log.BatchMalformed(logger, batch.BatchId, _model, _version, problem);
                instruments.Rejected(RejectionReasons.Malformed, Math.Max(count, 1), _model, version: _version);
                await GrainFactory.GetGrain<IDeadLetterGrain>(_model).AddAsync(
                    new DeadLetter(clock.GetUtcNow(), this.GetPrimaryKeyString(), batch.BatchId, count, problem));
                results[b] = new IngestResult(0, ImmutableDictionary<string, int>.Empty.Add(RejectionReasons.Malformed, count), 0);
                continue;
            }

            var definition = await GetDefinitionAsync(batch);
            if (definition is null)
            {
                Reject(batch, RejectionReasons.UnknownModel, batch.Count);
                results[b] = new IngestResult(0, ImmutableDictionary<string, int>.Empty.Add(RejectionReasons.UnknownModel, batch.Count), 0);
                continue;
            }

            var split = BatchSplitter.Split(batch, definition, clock.GetUtcNow());
            foreach (var (reason, count) in split.RejectedByReason)
            {
                Reject(batch, reason, count);
            }

            if (split.IgnoredDimensionValues > 0)
            {
                instruments.IgnoredDimension(_model, split.IgnoredDimensionValues);
            }

            classCount = definition.Classes.Length;
            accepted += split.Accepted;
            foreach (var share in split.Segments)
            {
                if (!merged.TryGetValue(share.Segment, out var parts))
                {
                    parts = new SegmentParts();
                    merged[share.Segment] = parts;
                }

                parts.Add(batch, share);
            }

            foreach (var row in split.Pending)
            {
                var id = batch.PredictionIds![row.Row];
                var shard = LabelLog.ShardOf(id, labelOptions.Value.ShardCount);
                if (!pendingByShard.TryGetValue(shard, out var builder))
                {
                    builder = new PendingShardBuilder();
                    pendingByShard[shard] = builder;
                }

                builder.Add(id, row.Predicted, batch.TimestampUtcTicks[row.Row], split.PendingSegmentSets[row.SegmentSet], batch.Scores is { } scores ? scores[row.Row] : float.NaN);
            }

            foreach (var set in split.PendingSegmentSets)
            {
                pendingSegments.UnionWith(set);
            }

            results[b] = new IngestResult(split.Accepted, split.RejectedByReason, split.Segments.Count);
        }

        if (merged.Count == 0 && pendingByShard.Count == 0)
        {
            return results;
        }

        // Catalog first: a segment that holds counts is always listed, so a drift epoch that starts now snapshots it.
        pendingSegments.UnionWith(merged.Keys);
        await ReportNewSegmentsAsync(pendingSegments);
        var calls = new List<Task>(merged.Count + pendingByShard.Count);

        // Predictions awaiting their label go to the shard of their id; it stores them before this delivery is
        // acknowledged and counts them, once per id, as pending in their segments.
        foreach (var (shard, builder) in pendingByShard)
        {
            var join = GrainFactory.GetGrain<ILabelJoinGrain>(LabelLog.JoinKey(_model, shard));
            calls.Add(join.AddPendingAsync(builder.Build(_version, classCount)));
        }

        foreach (var (segment, parts) in merged)
        {
            var grain = GrainFactory.GetGrain<ISegmentMatrixGrain>(Segments.MatrixKey(_model, _version, segment));
            calls.Add(grain.RecordCountsAsync(parts.ToSegmentCounts(classCount)).AsTask());
        }

        await Task.WhenAll(calls);
        instruments.Accepted(_model, _version, accepted);
        instruments.Routed(Stopwatch.GetElapsedTime(started));
        return results;
    }

    /// <summary>
    /// One span per delivery, child of the first batch's producer (the HTTP intake), linked to the others: the trace
    /// goes from the request through the stream to the segment grains (Orleans propagates it on grain calls).
    /// </summary>
    private Activity? StartRouteActivity(IReadOnlyList<PredictionBatch> batches)
    {
        if (!ConfusionMatrixInstruments.ActivitySource.HasListeners())
        {
            return null;
        }

        ActivityContext parent = default;
        var links = new List<ActivityLink>();
        foreach (var batch in batches)
        {
            if (batch.TraceParent is { } traceParent && ActivityContext.TryParse(traceParent, null, out var context))
            {
                if (parent == default)
                {
                    parent = context;
                }
                else
                {
                    links.Add(new ActivityLink(context));
                }
            }
        }

        var activity = ConfusionMatrixInstruments.ActivitySource.StartActivity("confusionmatrix.route", ActivityKind.Consumer, parent, links: links);
        activity?.SetTag("confusionmatrix.model", _model);
        activity?.SetTag("confusionmatrix.version", _version);
        activity?.SetTag("confusionmatrix.batches", batches.Count);
        return activity;
    }

    /// <summary>The predictions of one label-join shard that await their label, dictionary-encoding segment sets.</summary>
    private sealed class PendingShardBuilder
    {
        private readonly Dictionary<ImmutableArray<string>, int> _setIndex = [];
        private readonly List<ImmutableArray<string>> _sets = [];
        private readonly List<string> _ids = [];
        private readonly List<ushort> _predicted = [];
        private readonly List<long> _ticks = [];
        private readonly List<int> _set = [];
        private readonly List<float> _scores = [];

        public void Add(string id, ushort predicted, long ticks, ImmutableArray<string> segments, float score)
        {
            // Sets come from one batch's split, so equal sets are the same instance: reference keys suffice.
            if (!_setIndex.TryGetValue(segments, out var set))
            {
                set = _sets.Count;
                _setIndex.Add(segments, set);
                _sets.Add(segments);
            }

            _ids.Add(id);
            _predicted.Add(predicted);
            _ticks.Add(ticks);
            _set.Add(set);
            _scores.Add(score);
        }

        public PendingPredictionBatch Build(string version, int classCount) =>
            new(version, classCount, [.. _sets], [.. _ids], [.. _predicted], [.. _ticks], [.. _set], [.. _scores]);
    }

    /// <summary>One segment's counts from several batches, in order, each batch a part with its own producer and sequence.</summary>
    private sealed class SegmentParts
    {
        private readonly List<(PredictionBatch Batch, SegmentShare Share)> _parts = [];

        public void Add(PredictionBatch batch, SegmentShare share) => _parts.Add((batch, share));

        public SegmentCounts ToSegmentCounts(int classCount)
        {
            var first = _parts[0];
            var width = RollingConfusionWindows.DefaultEventTimeResolutionTicks;
            if (_parts.Count == 1)
            {
                return new SegmentCounts(
                    first.Batch.BatchId,
                    classCount,
                    width,
                    [new CountsPart(first.Batch.ProducerId, first.Batch.Sequence, first.Share.Cells.Length)],
                    first.Share.EventTimeUtcTicks,
                    first.Share.Cells,
                    first.Share.Counts);
            }

            var total = 0;
            foreach (var (_, share) in _parts)
            {
                total += share.Cells.Length;
            }

            var ticks = new long[total];
            var cells = new int[total];
            var counts = new int[total];
            var offset = 0;
            var parts = ImmutableArray.CreateBuilder<CountsPart>(_parts.Count);
            foreach (var (batch, share) in _parts)
            {
                share.EventTimeUtcTicks.CopyTo(ticks, offset);
                share.Cells.CopyTo(cells, offset);
                share.Counts.CopyTo(counts, offset);
                offset += share.Cells.Length;
                parts.Add(new CountsPart(batch.ProducerId, batch.Sequence, share.Cells.Length));
            }

            return new SegmentCounts(first.Batch.BatchId, classCount, width, parts.MoveToImmutable(), ticks, cells, counts);
        }
    }

    private void Reject(PredictionBatch batch, string reason, int count)
    {
        instruments.Rejected(reason, count, reason == RejectionReasons.UnknownModel ? null : _model, version: reason == RejectionReasons.UnknownModel ? null : _version);
        Log.PredictionsRejected(logger, batch.BatchId, _model, _version, reason, count);
    }

    private async ValueTask<ModelDefinition?> GetDefinitionAsync(PredictionBatch batch)
    {
        var now = clock.GetUtcNow();
        var stale = now - _definitionReadAt > DefinitionRefreshInterval;
        if (_definition is null || stale || !KnowsAllLabels(_definition, batch))
        {
            // Re-read at most once per interval unless the batch names something the cached entry lacks.
            if (_definition is null || stale || now - _definitionReadAt > TimeSpan.FromMilliseconds(200))
            {
                _definition = await GrainFactory.GetGrain<IModelRegistryGrain>(_model).GetAsync();
                _definitionReadAt = now;
            }
        }

        return _definition;
    }

    private static bool KnowsAllLabels(ModelDefinition definition, PredictionBatch batch)
    {
        foreach (var label in batch.Labels)
        {
            if (definition.ClassIndex(label) < 0)
            {
                return false;
            }
        }

        return true;
    }

    private async Task ReportNewSegmentsAsync(IEnumerable<string> segments)
    {
        List<string>? fresh = null;
        foreach (var segment in segments)
        {
            if (_reportedSegments.Count < ModelRegistryGrain.MaxSegmentsPerVersion && _reportedSegments.Add(segment))
            {
                (fresh ??= []).Add(segment);
            }
        }

        if (fresh is not null)
        {
            await GrainFactory.GetGrain<IModelRegistryGrain>(_model).ReportSegmentsAsync(_version, [.. fresh]);
        }
    }
}
