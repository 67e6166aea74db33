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
    public int ShardCount { get; set; } = 64;

    /// <summary>
    /// Predictions a shard keeps (waiting or labelled and still correctable) before it evicts the oldest by event
    /// time, counting them as expired. Bounds memory (about 150 bytes each, see the docs) and the stored state: one
    /// Azure Table entity holds about 1 MB, roughly 15,000 entries; Azure Blob has no such limit.
    /// </summary>
    public int MaxEntriesPerShard { get; set; } = 15_000;

    /// <summary>How often a shard expires labels that found no prediction and predictions past their time to live.</summary>
    public TimeSpan SweepInterval { get; set; } = TimeSpan.FromMinutes(1);
}

public sealed class LabelJoinOptionsValidator : IValidateOptions<LabelJoinOptions>
{
    public ValidateOptionsResult Validate(string? name, LabelJoinOptions options)
    {
        if (options.ShardCount is < 1 or > 65_536)
        {
            return ValidateOptionsResult.Fail($"ConfusionMatrix:Labels:ShardCount must be between 1 and 65536 (got {options.ShardCount}).");
        }

        if (options.MaxEntriesPerShard is < 100 or > 10_000_000)
        {
            return ValidateOptionsResult.Fail($"ConfusionMatrix:Labels:MaxEntriesPerShard must be between 100 and 10000000 (got {options.MaxEntriesPerShard}).");
        }

        return options.SweepInterval < TimeSpan.FromMilliseconds(100) || options.SweepInterval > TimeSpan.FromHours(1)
            ? ValidateOptionsResult.Fail($"ConfusionMatrix:Labels:SweepInterval must be between 100 ms and 1 hour (got {options.SweepInterval}).")
            : ValidateOptionsResult.Success;
    }
}
