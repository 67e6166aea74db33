using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace ConfusionMatrix.Grains;

/// <summary>When a segment matrix writes its state.</summary>
public sealed class SegmentMatrixOptions
{
    /// <summary>
    /// True (the default, and what durable storage gets): write counts and replay windows before a batch is acknowledged,
    /// the basis of exactly-once counting. False suits memory storage only, which survives no crash anyway: state is
    /// written every <see cref="CheckpointInterval"/> and on deactivation, and ingestion skips one write per segment per batch.
    /// </summary>
    public bool WriteBeforeAcknowledge { get; set; } = true;

    /// <summary>How often a segment with unwritten counts writes them when <see cref="WriteBeforeAcknowledge"/> is false.</summary>
    [SettingRange(typeof(TimeSpan), "00:00:00.1", "01:00:00", ErrorMessage = "SegmentMatrixOptions.CheckpointInterval must be between 100 ms and 1 hour.")]
    public TimeSpan CheckpointInterval { get; set; } = TimeSpan.FromSeconds(5);
}

/// <summary>Generated from the data annotations of <see cref="SegmentMatrixOptions"/>.</summary>
[OptionsValidator]
public sealed partial class SegmentMatrixOptionsValidator : IValidateOptions<SegmentMatrixOptions>;
