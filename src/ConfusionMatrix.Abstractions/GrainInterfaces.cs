using System.Collections.Immutable;

namespace ConfusionMatrix.Abstractions;

/// <summary>The registry entry of one model, keyed by model name: classes, positive class, segment dimensions, and the catalog of versions and segments seen.</summary>
[Alias("cm.IModelRegistryGrain")]
public interface IModelRegistryGrain : IGrainWithStringKey
{
    /// <summary>Registers or updates the model. Class lists are immutable once registered, because stored matrices index them.</summary>
    [Alias("Register")]
    Task<ModelDefinition> RegisterAsync(ModelDefinition definition);

    [Alias("Get")]
    ValueTask<ModelDefinition?> GetAsync();

    /// <summary>Called by version routers when they first see segments, so the catalog and drift watcher know what exists.</summary>
    [Alias("ReportSegments")]
    Task ReportSegmentsAsync(string version, ImmutableArray<string> segments);

    [Alias("GetCatalog")]
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
    [Alias("Record")]
    ValueTask RecordAsync(SegmentBatch batch);

    /// <summary>Reads the matrix for a trailing window; null is all time.</summary>
    [Alias("GetMatrix")]
    ValueTask<MatrixView> GetMatrixAsync(TimeSpan? window);

    /// <summary>Sets a holdout baseline; it replaces the rolling baseline for drift comparisons.</summary>
    [Alias("SetBaseline")]
    Task SetBaselineAsync(SparseMatrix baseline);

    [Alias("ClearBaseline")]
    Task ClearBaselineAsync();

    [Alias("GetBaseline")]
    ValueTask<BaselineView> GetBaselineAsync();
}
