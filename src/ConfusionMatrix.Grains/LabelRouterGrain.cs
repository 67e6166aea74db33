using ConfusionMatrix.Abstractions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Streams;

namespace ConfusionMatrix.Grains;

/// <summary>
/// Receives a model's labels (from the label stream, or by direct call), maps class names to the model's indices once
/// per batch, and hands each label to the label-join shard of its prediction id. Every shard call is awaited, so a
/// stream delivery is acknowledged only once every label of it is stored.
/// </summary>
[ImplicitStreamSubscription(LabelLog.StreamNamespace)]
public sealed class LabelRouterGrain(
    ConfusionMatrixInstruments instruments,
    IOptions<LabelJoinOptions> options,
    ILogger<LabelRouterGrain> logger) : Grain, ILabelRouterGrain
{
    private string _model = "";

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _model = this.GetPrimaryKeyString();
        var provider = this.GetStreamProvider(PredictionLog.StreamProvider);
        var stream = provider.GetStream<LabelBatch>(StreamId.Create(LabelLog.StreamNamespace, _model));
        await stream.SubscribeAsync(async (batch, _) => await IngestAsync(batch));
    }

    public async Task<LabelIngestResult> IngestAsync(LabelBatch batch)
    {
        var problem = batch.ValidateShape() ?? (batch.Model == _model ? null : $"batch names model {batch.Model} but arrived on {_model}");
        if (problem is not null)
        {
            // A poison batch must not stop the stream: refuse it whole, count it, and say why.
            Log.LabelBatchMalformed(logger, _model, problem);
            instruments.Rejected(RejectionReasons.Malformed, Math.Max(batch.PredictionIds?.Length ?? 0, 1), _model, "labels");
            return new LabelIngestResult([], problem);
        }

        var definition = await GrainFactory.GetGrain<IModelRegistryGrain>(_model).GetAsync();
        if (definition is null)
        {
            instruments.Rejected(RejectionReasons.UnknownModel, batch.Count, null, "labels");
            return new LabelIngestResult([], $"model '{_model}' is not registered");
        }

        var classIndex = new int[batch.Classes.Length];
        for (var c = 0; c < classIndex.Length; c++)
        {
            classIndex[c] = definition.ClassIndex(batch.Classes[c]);
        }

        var shardCount = options.Value.ShardCount;
        var rowsByShard = new Dictionary<int, List<int>>();
        for (var i = 0; i < batch.Count; i++)
        {
            var shard = LabelLog.ShardOf(batch.PredictionIds[i], shardCount);
            if (!rowsByShard.TryGetValue(shard, out var rows))
            {
                rows = [];
                rowsByShard[shard] = rows;
            }

            rows.Add(i);
        }

        var outcomes = new LabelOutcome[batch.Count];
        await Task.WhenAll(rowsByShard.Select(async kv =>
        {
            var rows = kv.Value;
            var part = rows.Count == batch.Count ? batch : new LabelBatch(
                batch.Model,
                batch.Classes,
                [.. rows.Select(r => batch.PredictionIds[r])],
                [.. rows.Select(r => batch.Actual[r])],
                [.. rows.Select(r => batch.LabelTimeUtcTicks[r])],
                batch.Sources is { } sources ? [.. rows.Select(r => sources[r])] : null);
            var shardOutcomes = await GrainFactory.GetGrain<ILabelJoinGrain>(LabelLog.JoinKey(_model, kv.Key)).ApplyLabelsAsync(part, classIndex);
            for (var j = 0; j < rows.Count; j++)
            {
                outcomes[rows[j]] = shardOutcomes[j];
            }
        }));

        return new LabelIngestResult(outcomes);
    }

    public async Task<LabelJoinStats> GetStatsAsync()
    {
        var shards = await Task.WhenAll(Enumerable.Range(0, options.Value.ShardCount)
            .Select(shard => GrainFactory.GetGrain<ILabelJoinGrain>(LabelLog.JoinKey(_model, shard)).GetStatsAsync().AsTask()));
        return shards.Aggregate(LabelJoinStats.Empty, (sum, s) => sum.Add(s));
    }

    public async Task<ScoreSummary> GetScoreSummaryAsync(ScoreSummaryQuery query)
    {
        var shards = await Task.WhenAll(Enumerable.Range(0, options.Value.ShardCount)
            .Select(shard => GrainFactory.GetGrain<ILabelJoinGrain>(LabelLog.JoinKey(_model, shard)).GetScoreSummaryAsync(query).AsTask()));
        return shards.Aggregate(ScoreSummary.Empty(query.ClassCount, query.Bins), (sum, s) => sum.Add(s));
    }
}
