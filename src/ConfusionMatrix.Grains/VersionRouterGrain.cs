using System.Collections.Immutable;
using System.Diagnostics;
using ConfusionMatrix.Abstractions;
using Microsoft.Extensions.Logging;
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
        await stream.SubscribeAsync(OnBatchAsync);
    }

    public Task<IngestResult> IngestAsync(PredictionBatch batch) => RouteAsync(batch);

    private async Task OnBatchAsync(PredictionBatch batch, StreamSequenceToken? token) => await RouteAsync(batch);

    private async Task<IngestResult> RouteAsync(PredictionBatch batch)
    {
        var started = Stopwatch.GetTimestamp();
        var shapeProblem = batch.ValidateShape();
        if (shapeProblem is not null || batch.Model != _model || batch.Version != _version)
        {
            // A poison batch must not stop the stream: refuse it whole, count it, and say why.
            var problem = shapeProblem ?? $"batch names {batch.Model}/{batch.Version} but arrived on {_model}/{_version}";
            var count = batch.Actual?.Length ?? 0;
            Log.BatchMalformed(logger, batch.BatchId, _model, _version, problem);
            instruments.Rejected(RejectionReasons.Malformed, Math.Max(count, 1), _model);
            await GrainFactory.GetGrain<IDeadLetterGrain>(_model).AddAsync(
                new DeadLetter(clock.GetUtcNow(), this.GetPrimaryKeyString(), batch.BatchId, count, problem));
            return new IngestResult(0, ImmutableDictionary<string, int>.Empty.Add(RejectionReasons.Malformed, count), 0);
        }

        var definition = await GetDefinitionAsync(batch);
        if (definition is null)
        {
            Reject(batch, RejectionReasons.UnknownModel, batch.Count);
            return new IngestResult(0, ImmutableDictionary<string, int>.Empty.Add(RejectionReasons.UnknownModel, batch.Count), 0);
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

        if (split.Accepted == 0)
        {
            return new IngestResult(0, split.RejectedByReason, 0);
        }

        // Catalog first: a segment that holds counts is always listed, so a drift epoch that starts now snapshots it.
        await ReportNewSegmentsAsync(split);
        var calls = new Task[split.Segments.Count];
        for (var i = 0; i < split.Segments.Count; i++)
        {
            var (segment, cells, ticks) = split.Segments[i];
            var grain = GrainFactory.GetGrain<ISegmentMatrixGrain>(Segments.MatrixKey(_model, _version, segment));
            calls[i] = grain.RecordAsync(new SegmentBatch(batch.BatchId, definition.Classes.Length, cells, ticks, batch.ProducerId, batch.Sequence)).AsTask();
        }

        await Task.WhenAll(calls);
        instruments.Accepted(_model, split.Accepted);
        instruments.Routed(Stopwatch.GetElapsedTime(started));
        return new IngestResult(split.Accepted, split.RejectedByReason, split.Segments.Count);
    }

    private void Reject(PredictionBatch batch, string reason, int count)
    {
        instruments.Rejected(reason, count, reason == RejectionReasons.UnknownModel ? null : _model);
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

    private async Task ReportNewSegmentsAsync(BatchSplit split)
    {
        List<string>? fresh = null;
        foreach (var (segment, _, _) in split.Segments)
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
