namespace ConfusionMatrix.Grains;

/// <summary>Names of the grain-storage providers. Split by state shape so each can sit on the Azure Storage service that suits it.</summary>
public static class StorageNames
{
    /// <summary>Small, rarely written records: the model registry and catalog.</summary>
    public const string Registry = "registry";

    /// <summary>Segment matrices with their windows, baselines and replay watermarks: written on every batch.</summary>
    public const string Matrices = "matrices";

    /// <summary>Label-join shards: predictions awaiting their label, early labels, and what was applied.</summary>
    public const string Labels = "labels";

    /// <summary>Drift-watcher and rollout-controller state, policies and audit history.</summary>
    public const string Control = "control";

    /// <summary>Orleans' own stream pub-sub bookkeeping.</summary>
    public const string PubSub = "PubSubStore";

    /// <summary>Every store a silo registers; each may have its own provider (<c>ConfusionMatrix:Storage:Stores:{store}</c>).</summary>
    public static readonly IReadOnlyList<string> All = [Registry, Matrices, Labels, Control, PubSub];
}
