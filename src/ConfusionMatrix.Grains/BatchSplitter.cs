using System.Collections.Immutable;
using ConfusionMatrix.Abstractions;
using ConfusionMatrix.Core;

namespace ConfusionMatrix.Grains;

/// <summary>
/// The outcome of splitting one batch: per segment, the labelled predictions counted per (event-time bucket, cell),
/// the predictions that await their label (row, class, and the set of segments they belong to), and what was refused.
/// </summary>
internal sealed record BatchSplit(
    int Accepted,
    ImmutableDictionary<string, int> RejectedByReason,
    int IgnoredDimensionValues,
    IReadOnlyList<SegmentShare> Segments,
    IReadOnlyList<PendingRow> Pending,
    ImmutableArray<ImmutableArray<string>> PendingSegmentSets);

/// <summary>A prediction of the batch that awaits its label: its row, predicted class index and segment set.</summary>
internal readonly record struct PendingRow(int Row, ushort Predicted, int SegmentSet);

/// <summary>
/// Validates a batch against a model definition and splits it into segments. Pure and deterministic, so the
/// routing rules are testable without a cluster.
/// </summary>
internal static class BatchSplitter
{
    public static BatchSplit Split(PredictionBatch batch, ModelDefinition definition, DateTimeOffset now)
    {
        var n = batch.Count;
        var k = definition.Classes.Length;

        // A batch checked at the edge against this registration's classes: its label indexes are class indexes and its
        // rows already passed every per-row rule, so they are neither re-mapped nor re-checked (the shape still is).
        var trusted = batch.IsValidatedFor(definition.Classes);
        var labelToClass = new int[batch.Labels.Length];
        for (var i = 0; i < labelToClass.Length; i++)
        {
            labelToClass[i] = trusted ? i : definition.ClassIndex(batch.Labels[i]);
        }

        var dims = batch.Dimensions.Length;
        var dimToRegistered = new int[dims];
        for (var d = 0; d < dims; d++)
        {
            dimToRegistered[d] = definition.SegmentDimensions.IndexOf(batch.Dimensions[d], 0, StringComparer.Ordinal);
        }

        var valueIsBad = new bool[batch.SegmentValues.Length];
        for (var v = 0; v < valueIsBad.Length && !trusted; v++)
        {
            var value = batch.SegmentValues[v];
            valueIsBad[v] = string.IsNullOrWhiteSpace(value) || value.Length > PredictionLimits.MaxSegmentValueLength;
        }

        var minTicks = PredictionLimits.MinTimestamp.UtcTicks;
        var maxTicks = (now + PredictionLimits.MaxFutureSkew).UtcTicks;
        var cells = new int[n];
        var accepted = 0;
        var pendingRows = new List<int>();
        var rejected = new Dictionary<string, int>(StringComparer.Ordinal);
        var ignored = 0;

        for (var i = 0; i < n; i++)
        {
            var awaitsLabel = batch.Actual[i] == PredictionBatch.NoActual;
            var actual = awaitsLabel ? 0 : labelToClass[batch.Actual[i]];
            var predicted = labelToClass[batch.Predicted[i]];
            string? reason = null;
            if (trusted)
            {
                // Checked at the edge.
            }
            else if (actual < 0 || predicted < 0)
            {
                reason = RejectionReasons.UnknownClass;
            }
            else if (awaitsLabel && string.IsNullOrEmpty(batch.PredictionIds?[i]))
            {
                reason = RejectionReasons.MissingField;
            }
            else if (awaitsLabel && batch.PredictionIds![i].Length > PredictionLimits.MaxIdLength)
            {
                reason = RejectionReasons.IdTooLong;
            }
            else if (batch.TimestampUtcTicks[i] < minTicks || batch.TimestampUtcTicks[i] > maxTicks)
            {
                reason = RejectionReasons.BadTimestamp;
            }
            else
            {
                for (var d = 0; d < dims; d++)
                {
                    var v = batch.SegmentValueIndex[(i * dims) + d];
                    if (v != PredictionBatch.NoSegmentValue && valueIsBad[v])
                    {
                        reason = RejectionReasons.EmptySegmentValue;
                        break;
                    }
                }
            }

            if (reason is not null)
            {
                cells[i] = -1;
                rejected[reason] = rejected.GetValueOrDefault(reason) + 1;
                continue;
            }

            accepted++;
            if (awaitsLabel)
            {
                // Counted when its label comes; until then it is pending in the label join.
                cells[i] = -1;
                pendingRows.Add(i);
                continue;
            }

            cells[i] = (actual * k) + predicted;
        }

        var pending = new List<PendingRow>(pendingRows.Count);
        var sets = ImmutableArray.CreateBuilder<ImmutableArray<string>>();
        if (pendingRows.Count > 0)
        {
            var setIndex = new Dictionary<string, int>(StringComparer.Ordinal);
            var written = new Dictionary<(int Dimension, int Value), string>();
            var names = new List<string>(dims + 1);
            foreach (var i in pendingRows)
            {
                names.Clear();
                names.Add(SegmentKey.All);
                for (var d = 0; d < dims; d++)
                {
                    var v = batch.SegmentValueIndex[(i * dims) + d];
                    if (v == PredictionBatch.NoSegmentValue)
                    {
                        continue;
                    }

                    if (dimToRegistered[d] < 0)
                    {
                        ignored++;
                        continue;
                    }

                    // Written once per (dimension, value) of the batch, not once per row.
                    if (!written.TryGetValue((d, v), out var name))
                    {
                        name = Written(batch, d, v);
                        written.Add((d, v), name);
                    }

                    names.Add(name);
                }

                var key = string.Join('\n', names);
                if (!setIndex.TryGetValue(key, out var set))
                {
                    set = sets.Count;
                    setIndex.Add(key, set);
                    sets.Add([.. names]);
                }

                pending.Add(new PendingRow(i, (ushort)labelToClass[batch.Predicted[i]], set));
            }
        }

        var segments = new List<SegmentShare>();
        var labelled = accepted - pending.Count;
        if (labelled > 0)
        {
            // Event times rounded to the finest bucket a segment keeps: a segment's share is sized by its distinct
            // (bucket, cell) pairs, not by its predictions.
            var aggregator = SegmentCountAggregator.Current;
            aggregator.Begin(cells, batch.TimestampUtcTicks, k, now.UtcTicks, RollingConfusionWindows.DefaultEventTimeResolutionTicks);
            aggregator.Aggregate(null, 0, 0, 1, segments, static (list, _, e) => list.Add(new SegmentShare(SegmentKey.All, e.EventTimeUtcTicks, e.Cells, e.Counts)));
            for (var d = 0; d < dims; d++)
            {
                if (dimToRegistered[d] < 0)
                {
                    for (var i = 0; i < n; i++)
                    {
                        if (cells[i] >= 0 && batch.SegmentValueIndex[(i * dims) + d] != PredictionBatch.NoSegmentValue)
                        {
                            ignored++;
                        }
                    }

                    continue;
                }

                aggregator.Aggregate(
                    batch.SegmentValueIndex,
                    dims,
                    d,
                    batch.SegmentValues.Length,
                    (segments, batch, d),
                    static (s, v, e) => s.segments.Add(new SegmentShare(Written(s.batch, s.d, v), e.EventTimeUtcTicks, e.Cells, e.Counts)));
            }
        }

        return new BatchSplit(accepted, rejected.ToImmutableDictionary(StringComparer.Ordinal), ignored, segments, pending, sets.ToImmutable());
    }

    /// <summary>
    /// The written segment (grain-key form) of value <paramref name="v"/> of dimension <paramref name="d"/>. Only values
    /// of accepted rows of registered dimensions get here, and those passed the segment rule, so this does not throw.
    /// </summary>
    private static string Written(PredictionBatch batch, int d, int v) => SegmentKey.Of(batch.Dimensions[d], batch.SegmentValues[v]).ToString();
}
