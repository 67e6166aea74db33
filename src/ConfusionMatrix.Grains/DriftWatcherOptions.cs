using Orleans.Storage;

namespace ConfusionMatrix.Grains;

/// <summary>
/// The drift watcher's check of its own stored size. Its state grows with classes times segments and is not bounded,
/// and Orleans' Azure Table grain storage refuses a state over <see cref="AzureTableStateLimit"/> bytes: every write of
/// that watcher would then fail, and with it every alarm it raises. The host turns the check on when the control store
/// is Azure Table; blobs and memory have no such limit.
/// </summary>
public sealed class DriftWatcherOptions
{
    /// <summary>What Orleans' Azure Table grain storage accepts for one state: 15 binary properties of 64 KiB.</summary>
    public const int AzureTableStateLimit = 15 * 64 * 1024;

    /// <summary>Half the limit: room for the state to double before writes fail.</summary>
    public const int DefaultStateWarningBytes = 512 * 1024;

    /// <summary>The state is measured on the first evaluation and then every this many, so the check costs little.</summary>
    public const int CheckEveryEvaluations = 10;

    /// <summary>Stored size above which the watcher warns and counts; null turns the check off.</summary>
    public int? StateWarningBytes { get; set; }
}

/// <summary>
/// Measures a state as the control store writes it: with that store's grain-storage serializer (a keyed one if
/// registered, else the silo's default), resolved the way Orleans resolves it for the provider.
/// </summary>
public sealed class ControlStateSize(IServiceProvider services)
{
    private readonly Lazy<IGrainStorageSerializer> _serializer = new(() => StorageFormats.For(services, StorageNames.Control));

    public int Measure<T>(T state) => _serializer.Value.Serialize(state).ToMemory().Length;
}
