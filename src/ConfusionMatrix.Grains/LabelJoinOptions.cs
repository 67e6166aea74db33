using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace ConfusionMatrix.Grains;

/// <summary>How the label join is sharded and swept. Per-model time to live and grace period live in the model definition.</summary>
public sealed class LabelJoinOptions
{
    /// <summary>
    /// Label-join grains per model; a prediction's shard is a stable hash of its id. Fixed for the life of a
    /// deployment: changing it strands waiting predictions in shards that no label reaches (they expire unlabelled).
    /// Size it to the predictions waiting at once: about <see cref="MaxEntriesPerShard"/> each.
    /// </summary>
    [SettingRange(1, 65_536, ErrorMessage = "ConfusionMatrix:Labels:ShardCount must be between {1} and {2}.")]
    public int ShardCount { get; set; } = 64;

    /// <summary>
    /// Predictions a shard keeps (waiting or labelled and still correctable) before it evicts the oldest by event
    /// time, counting them as expired. Bounds memory (about 150 bytes each, see the docs) and the stored state: one
    /// Azure Table entity holds about 1 MB, roughly 15,000 entries; Azure Blob has no such limit.
    /// </summary>
    [SettingRange(100, 10_000_000, ErrorMessage = "ConfusionMatrix:Labels:MaxEntriesPerShard must be between {1} and {2}.")]
    public int MaxEntriesPerShard { get; set; } = 15_000;

    /// <summary>How often a shard expires labels that found no prediction and predictions past their time to live.</summary>
    [SettingRange(typeof(TimeSpan), "00:00:00.1", "01:00:00", ErrorMessage = "ConfusionMatrix:Labels:SweepInterval must be between 100 ms and 1 hour.")]
    public TimeSpan SweepInterval { get; set; } = TimeSpan.FromMinutes(1);
}

/// <summary>Generated from the data annotations of <see cref="LabelJoinOptions"/>.</summary>
[OptionsValidator]
public sealed partial class LabelJoinOptionsValidator : IValidateOptions<LabelJoinOptions>;
