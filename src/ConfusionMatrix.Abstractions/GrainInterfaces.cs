using System.Collections.Immutable;
using Orleans.Concurrency;

namespace ConfusionMatrix.Abstractions;

/// <summary>The registry entry of one model, keyed by model name: classes, positive class, segment dimensions, and the catalog of versions and segments seen.</summary>
[Alias("cm.IModelRegistryGrain")]
public interface IModelRegistryGrain : IGrainWithStringKey
{
    /// <summary>Registers or updates the model. Class lists are immutable once registered, because stored matrices index them.</summary>
    [Alias("Register")]
    Task<ModelDefinition> RegisterAsync(ModelDefinition definition);

    [Alias("Get"), ReadOnly]
    ValueTask<ModelDefinition?> GetAsync();

    /// <summary>Called by version routers when they first see segments, so the catalog and drift watcher know what exists.</summary>
    [Alias("ReportSegments")]
    Task ReportSegmentsAsync(string version, ImmutableArray<string> segments);

    [Alias("GetCatalog"), ReadOnly]
    ValueTask<ModelCatalog> GetCatalogAsync();
}

/// <summary>
/// Entry point of one model version's predictions, keyed <c>{model}/{version}</c>. Implicitly subscribed to the
/// prediction-log stream with the same key; inference services may also call <see cref="IngestAsync"/> directly.
/// </summary>
[Alias("cm.IVersionRouterGrain")]
public interface IVersionRouterGrain : IGrainWithStringKey
{
    [Alias("Ingest")]
    Task<IngestResult> IngestAsync(PredictionBatch batch);
}

/// <summary>The confusion matrix of one (model version, segment), keyed <c>{model}/{version}/{segment}</c>.</summary>
[Alias("cm.ISegmentMatrixGrain")]
public interface ISegmentMatrixGrain : IGrainWithStringKey
{
    /// <summary>Applies one prediction per cell (the wire form of routers before <see cref="RecordCountsAsync"/>; kept for rolling upgrades).</summary>
    [Alias("Record")]
    ValueTask RecordAsync(SegmentBatch batch);

    /// <summary>
    /// Applies pre-aggregated counts, each part once. Completes only after a storage write containing them succeeded
    /// (when the segment writes before acknowledging); deliveries arriving while a write is in flight share the next.
    /// </summary>
    [Alias("RecordCounts")]
    ValueTask RecordCountsAsync(SegmentCounts counts);

    /// <summary>
    /// Reads the matrix for a trailing window; null is all time. Read-only: it never writes storage. It may rotate the
    /// in-memory rings to the current time (derived from the clock, the same for every caller) and re-read storage
    /// after a failed write (idempotent), so readers interleaving with one another see the same counts.
    /// </summary>
    [Alias("GetMatrix"), ReadOnly]
    ValueTask<MatrixView> GetMatrixAsync(TimeSpan? window);

    /// <summary>Sets a holdout baseline; it replaces the rolling baseline for drift comparisons.</summary>
    [Alias("SetBaseline")]
    Task SetBaselineAsync(SparseMatrix baseline);

    [Alias("ClearBaseline")]
    Task ClearBaselineAsync();

    [Alias("GetBaseline"), ReadOnly]
    ValueTask<BaselineView> GetBaselineAsync();

    /// <summary>Applies a label-join shard's changes (labels, corrections, pending and expired predictions) at their event times, once per delivery.</summary>
    [Alias("ApplyLabelDeltas")]
    ValueTask ApplyLabelDeltasAsync(SegmentLabelDeltas deltas);

    /// <summary>
    /// The labelled counts of predictions whose event time lies in [from, to), at the resolution of the buckets still
    /// retained (minutes for the last hour, hours for a day, days for a month): the cohorts a comparison can match.
    /// The view's window names the range actually covered.
    /// </summary>
    [Alias("GetEventTimeRange"), ReadOnly]
    ValueTask<MatrixView> GetEventTimeRangeAsync(DateTimeOffset from, DateTimeOffset to);
}

/// <summary>
/// One shard of a model's label join, keyed <c>{model}/{shard}</c> (<see cref="LabelLog.ShardOf"/>): predictions that
/// await their label, labels that arrived before their prediction, and what was applied, so that every label counts
/// once, in its prediction's version, segments and event-time window.
/// </summary>
[Alias("cm.ILabelJoinGrain")]
public interface ILabelJoinGrain : IGrainWithStringKey
{
    [Alias("AddPending")]
    Task<LabelJoinResult> AddPendingAsync(PendingPredictionBatch batch);

    /// <summary>Applies labels; <paramref name="classIndex"/> maps the batch's class names to the model's class indices (-1 unknown).</summary>
    [Alias("ApplyLabels")]
    Task<LabelOutcome[]> ApplyLabelsAsync(LabelBatch batch, int[] classIndex);

    /// <summary>Not read-only: reading the stats also sends what a crash left undelivered (it writes state).</summary>
    [Alias("GetStats")]
    ValueTask<LabelJoinStats> GetStatsAsync();

    /// <summary>Score histograms of this shard's predictions for one version, segment and window.</summary>
    [Alias("GetScoreSummary"), ReadOnly]
    ValueTask<ScoreSummary> GetScoreSummaryAsync(ScoreSummaryQuery query);
}

/// <summary>
/// Entry point of one model's labels, keyed by model: implicitly subscribed to the label stream, it maps class names
/// once per batch and hands each label to the shard of its prediction id.
/// </summary>
[Alias("cm.ILabelRouterGrain")]
public interface ILabelRouterGrain : IGrainWithStringKey
{
    [Alias("Ingest")]
    Task<LabelIngestResult> IngestAsync(LabelBatch batch);

    /// <summary>The label-join counters summed over every shard of the model.</summary>
    [Alias("GetStats"), ReadOnly]
    Task<LabelJoinStats> GetStatsAsync();

    /// <summary>Score histograms summed over every shard of the model.</summary>
    [Alias("GetScoreSummary"), ReadOnly]
    Task<ScoreSummary> GetScoreSummaryAsync(ScoreSummaryQuery query);
}
