using ConfusionMatrix.Abstractions;
using ConfusionMatrix.Core;
using Orleans.Concurrency;

namespace ConfusionMatrix.Grains;

/// <summary>Persisted form of a segment matrix. Plain arrays, so the pure-math types stay free of Orleans.</summary>
[GenerateSerializer, Alias("cm.SegmentMatrixState")]
public sealed class SegmentMatrixState
{
    [Id(0)] public int ClassCount { get; set; }

    [Id(1)] public long[]? AllTimeCells { get; set; }

    [Id(2)] public long[]? MinuteBucketStartsUtcTicks { get; set; }

    [Id(3)] public long[][]? MinuteBucketCells { get; set; }

    [Id(4)] public long[]? HourBucketStartsUtcTicks { get; set; }

    [Id(5)] public long[][]? HourBucketCells { get; set; }

    [Id(6)] public SparseMatrix? Holdout { get; set; }

    [Id(7)] public DateTimeOffset? HoldoutSetAt { get; set; }

    [Id(8)] public long BatchesApplied { get; set; }

    /// <summary>Replay windows per producer, written in the same storage operation as the counts they guard.</summary>
    [Id(9)] public Dictionary<string, ProducerWatermark> Watermarks { get; set; } = new(StringComparer.Ordinal);

    [Id(10)] public long DuplicatesSkipped { get; set; }

    [Id(11)] public long[]? DayBucketStartsUtcTicks { get; set; }

    [Id(12)] public long[][]? DayBucketCells { get; set; }

    /// <summary>Predictions awaiting their label and expired unlabelled, by predicted class and event time.</summary>
    [Id(13)] public RollingSnapshotState? LabelStatus { get; set; }

    /// <summary>Label latency histogram by event time.</summary>
    [Id(14)] public RollingSnapshotState? LabelLatency { get; set; }

    /// <summary>Storage writes made, this one included: with <see cref="BatchesApplied"/>, how many deliveries shared a write.</summary>
    [Id(15)] public long StateWrites { get; set; }
}

/// <summary>Persisted form of one <see cref="RollingWindowsSnapshot"/>.</summary>
[GenerateSerializer, Alias("cm.RollingSnapshotState")]
public sealed class RollingSnapshotState
{
    [Id(0)] public int ClassCount { get; set; }

    [Id(1)] public long[] AllTimeCells { get; set; } = [];

    [Id(2)] public long[] MinuteStarts { get; set; } = [];

    [Id(3)] public long[][] MinuteCells { get; set; } = [];

    [Id(4)] public long[] HourStarts { get; set; } = [];

    [Id(5)] public long[][] HourCells { get; set; } = [];

    [Id(6)] public long[] DayStarts { get; set; } = [];

    [Id(7)] public long[][] DayCells { get; set; } = [];

    public static RollingSnapshotState From(RollingWindowsSnapshot s) => new()
    {
        ClassCount = s.ClassCount,
        AllTimeCells = s.AllTimeCells,
        MinuteStarts = s.MinuteBucketStartsUtcTicks,
        MinuteCells = s.MinuteBucketCells,
        HourStarts = s.HourBucketStartsUtcTicks,
        HourCells = s.HourBucketCells,
        DayStarts = s.DayBucketStartsUtcTicks ?? [],
        DayCells = s.DayBucketCells ?? [],
    };

    public RollingWindowsSnapshot ToSnapshot() =>
        new(ClassCount, AllTimeCells, MinuteStarts, MinuteCells, HourStarts, HourCells, DayStarts, DayCells);
}

/// <summary>Persisted <see cref="ReplayWindow"/> of one producer, with when it was last heard from (for pruning).</summary>
[GenerateSerializer, Immutable, Alias("cm.ProducerWatermark")]
public sealed record ProducerWatermark(
    [property: Id(0)] long Highest,
    [property: Id(1)] ulong Seen,
    [property: Id(2)] DateTimeOffset LastSeen,
    [property: Id(3)] ulong[]? Older = null);
