using System.Collections.Immutable;

namespace ConfusionMatrix.Abstractions;

/// <summary>
/// One segment's share of one or more prediction batches, already mapped to class indices: cell = actual * K + predicted.
/// Each original batch is a <see cref="BatchPart"/>: its producer id and sequence, and how many of the cells (in order)
/// are its own. The segment applies each part at most once. Without parts, the whole batch is one part named by
/// <see cref="ProducerId"/> and <see cref="Sequence"/>; an empty producer id opts out of replay detection.
/// </summary>
[GenerateSerializer, Immutable, Alias("cm.SegmentBatch")]
public sealed record SegmentBatch(
    [property: Id(0)] string BatchId,
    [property: Id(1)] int ClassCount,
    [property: Id(2)] int[] Cells,
    [property: Id(3)] long[] TimestampUtcTicks,
    [property: Id(4)] string ProducerId = "",
    [property: Id(5)] long Sequence = 0,
    [property: Id(6)] ImmutableArray<BatchPart> Parts = default)
{
    /// <summary>The parts in cell order; a batch without explicit parts is one part.</summary>
    public ImmutableArray<BatchPart> EffectiveParts =>
        Parts.IsDefaultOrEmpty ? [new BatchPart(ProducerId, Sequence, Cells.Length)] : Parts;
}

/// <summary>The cells of one original batch inside a <see cref="SegmentBatch"/>.</summary>
[GenerateSerializer, Immutable, Alias("cm.BatchPart")]
public sealed record BatchPart(
    [property: Id(0)] string ProducerId,
    [property: Id(1)] long Sequence,
    [property: Id(2)] int Count);

/// <summary>
/// One segment's share of one or more prediction batches, pre-aggregated by the router: per original batch (a
/// <see cref="CountsPart"/>: producer id, sequence, and how many of the entries, in order, are its own), how many
/// predictions fell in each (event-time bucket, cell), cell = actual * K + predicted. Event times are rounded down to
/// <see cref="BucketWidthTicks"/>, which divides every bucket width the segment keeps, so nothing a window or an
/// event-time range query reads is lost; a time ahead of the router's clock travels exact, so the segment's future-skew
/// allowance judges it as it was stamped. The segment applies each part at most once (empty producer id: no replay
/// check). Replaces <see cref="SegmentBatch"/> on the router-to-segment path, whose size grew with the predictions.
/// </summary>
[GenerateSerializer, Immutable, Alias("cm.SegmentCounts")]
public sealed record SegmentCounts(
    [property: Id(0)] string BatchId,
    [property: Id(1)] int ClassCount,
    [property: Id(2)] long BucketWidthTicks,
    [property: Id(3)] ImmutableArray<CountsPart> Parts,
    [property: Id(4)] long[] EventTimeUtcTicks,
    [property: Id(5)] int[] Cells,
    [property: Id(6)] int[] Counts)
{
    /// <summary>Predictions carried, summed over every entry.</summary>
    public long Predictions
    {
        get
        {
            long total = 0;
            foreach (var count in Counts)
            {
                total += count;
            }

            return total;
        }
    }
}

/// <summary>The entries of one original batch inside a <see cref="SegmentCounts"/>.</summary>
[GenerateSerializer, Immutable, Alias("cm.CountsPart")]
public sealed record CountsPart(
    [property: Id(0)] string ProducerId,
    [property: Id(1)] long Sequence,
    [property: Id(2)] int Entries);

/// <summary>
/// A confusion matrix in sparse form (non-zero cells only), so that a 1000-class matrix does not cost a million entries
/// on the wire. Cell = actual * ClassCount + predicted.
/// </summary>
[GenerateSerializer, Immutable, Alias("cm.SparseMatrix")]
public sealed record SparseMatrix(
    [property: Id(0)] int ClassCount,
    [property: Id(1)] int[] Cells,
    [property: Id(2)] long[] Counts)
{
    public long Total
    {
        get
        {
            long total = 0;
            foreach (var c in Counts)
            {
                total += c;
            }

            return total;
        }
    }

    public long[][] ToRows()
    {
        var rows = new long[ClassCount][];
        for (var i = 0; i < ClassCount; i++)
        {
            rows[i] = new long[ClassCount];
        }

        for (var i = 0; i < Cells.Length; i++)
        {
            rows[Cells[i] / ClassCount][Cells[i] % ClassCount] += Counts[i];
        }

        return rows;
    }
}

/// <summary>Where a segment's baseline comes from.</summary>
[GenerateSerializer, Alias("cm.BaselineKind")]
public enum BaselineKind
{
    /// <summary>No baseline yet: neither a holdout matrix nor enough rolling history.</summary>
    None = 0,

    /// <summary>The trailing window of the segment's own history (see the rolling-window options).</summary>
    Rolling = 1,

    /// <summary>A holdout matrix set through the API, typically from training.</summary>
    Holdout = 2,
}

/// <summary>A segment matrix as read for one window.</summary>
[GenerateSerializer, Immutable, Alias("cm.MatrixView")]
public sealed record MatrixView(
    [property: Id(0)] string Model,
    [property: Id(1)] string Version,
    [property: Id(2)] string Segment,
    [property: Id(3)] string Window,
    [property: Id(4)] SparseMatrix Matrix,
    [property: Id(5)] DateTimeOffset AsOf,
    [property: Id(6)] long BatchesApplied,
    [property: Id(7)] long[]? PendingByPredicted = null,
    [property: Id(8)] long[]? ExpiredByPredicted = null,
    [property: Id(9)] long[]? LabelLatencyHistogram = null);

/// <summary>A segment's baseline as read.</summary>
[GenerateSerializer, Immutable, Alias("cm.BaselineView")]
public sealed record BaselineView(
    [property: Id(0)] BaselineKind Kind,
    [property: Id(1)] SparseMatrix? Matrix,
    [property: Id(2)] DateTimeOffset? SetAt);

/// <summary>What a version router did with one batch.</summary>
[GenerateSerializer, Immutable, Alias("cm.IngestResult")]
public sealed record IngestResult(
    [property: Id(0)] int Accepted,
    [property: Id(1)] ImmutableDictionary<string, int> RejectedByReason,
    [property: Id(2)] int SegmentsTouched);

/// <summary>The versions seen for a model and, per version, the segments that have received predictions.</summary>
[GenerateSerializer, Immutable, Alias("cm.ModelCatalog")]
public sealed record ModelCatalog(
    [property: Id(0)] ModelDefinition? Definition,
    [property: Id(1)] ImmutableDictionary<string, ImmutableArray<string>> SegmentsByVersion);
