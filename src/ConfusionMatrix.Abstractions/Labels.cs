using System.Collections.Immutable;
using System.Globalization;
using System.Text.Json;

namespace ConfusionMatrix.Abstractions;

/// <summary>
/// Naming and sharding of the label join. Predictions logged without their actual label wait in label-join grains
/// keyed <c>{model}/{shard}</c>, the shard a stable hash of the prediction id, until their label arrives.
/// </summary>
public static class LabelLog
{
    /// <summary>Stream namespace of label records on the prediction-log stream provider; the stream key is the model.</summary>
    public const string StreamNamespace = "label-log";

    /// <summary>Producer ids of label-join grains start with this, so their deliveries are told apart from batches.</summary>
    public const string JoinProducerPrefix = "label-join:";

    public static string JoinKey(string model, int shard) => string.Create(CultureInfo.InvariantCulture, $"{model}/{shard}");

    public static (string Model, int Shard) ParseJoinKey(string key)
    {
        var slash = key.LastIndexOf('/');
        if (slash <= 0 || !int.TryParse(key.AsSpan(slash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var shard))
        {
            throw new ArgumentException($"Expected '{{model}}/{{shard}}', got '{key}'.", nameof(key));
        }

        return (key[..slash], shard);
    }

    /// <summary>
    /// The shard of a prediction id: 32-bit FNV-1a over its UTF-16 code units, modulo the shard count. Stable across
    /// processes and releases (unlike <see cref="string.GetHashCode()"/>), because pending state is stored by shard.
    /// </summary>
    public static int ShardOf(string predictionId, int shardCount)
    {
        var hash = 2166136261u;
        foreach (var c in predictionId)
        {
            hash = (hash ^ c) * 16777619u;
        }

        return (int)(hash % (uint)shardCount);
    }
}

/// <summary>One label in the public JSON format, read and checked: <c>{"model","predictionId","actual","labelTime"?,"source"?}</c>.</summary>
public sealed record LabelRecord(string Model, string PredictionId, string Actual, DateTimeOffset LabelTime, string? Source);

/// <summary>Reads and checks labels the same way wherever they arrive (HTTP, the Event Hubs adapter, the client library).</summary>
public static class LabelRecordReader
{
    public const int MaxSourceLength = 128;

    /// <summary>
    /// Reads one label. Without <c>labelTime</c> the label is stamped <paramref name="now"/>. The label time orders
    /// corrections: of two different labels for one prediction the later one wins, and a replayed older one is ignored.
    /// </summary>
    public static RecordProblem? TryRead(JsonElement e, DateTimeOffset now, out LabelRecord? record)
    {
        record = null;
        if (e.ValueKind != JsonValueKind.Object)
        {
            return new(RejectionReasons.Malformed, "a label must be a JSON object");
        }

        var id = PredictionRecordReader.Text(e, "predictionId");
        var model = PredictionRecordReader.Text(e, "model");
        var actual = PredictionRecordReader.Text(e, "actual");
        var labelTime = now;
        if (e.TryGetProperty("labelTime", out var lt) && lt.ValueKind != JsonValueKind.Null)
        {
            if (lt.ValueKind != JsonValueKind.String
                || !DateTimeOffset.TryParse(lt.GetString(), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out labelTime))
            {
                return new(RejectionReasons.BadTimestamp, "'labelTime' must be an ISO-8601 date-time string such as 2026-11-26T10:00:00Z");
            }
        }

        string? source = null;
        if (e.TryGetProperty("source", out var s) && s.ValueKind != JsonValueKind.Null)
        {
            source = s.ValueKind == JsonValueKind.String ? s.GetString() : null;
            if (string.IsNullOrEmpty(source) || source.Length > MaxSourceLength)
            {
                return new(RejectionReasons.Malformed, $"'source' must be a string of 1..{MaxSourceLength} characters");
            }
        }

        if (Check(model, id, actual, labelTime, now) is { } problem)
        {
            return problem;
        }

        record = new LabelRecord(model!, id!, actual!, labelTime, source);
        return null;
    }

    /// <summary>The checks of one label, shared with producers that build labels in code.</summary>
    public static RecordProblem? Check(string? model, string? predictionId, string? actual, DateTimeOffset labelTime, DateTimeOffset now)
    {
        if (PredictionRules.CheckId(predictionId) is { } idProblem)
        {
            return idProblem;
        }

        if (string.IsNullOrEmpty(model) || string.IsNullOrEmpty(actual))
        {
            return new(RejectionReasons.MissingField, $"'{(string.IsNullOrEmpty(model) ? "model" : "actual")}' is required");
        }

        if (!PredictionLimits.IsValidName(model))
        {
            return new(RejectionReasons.BadName, $"'model' must be 1..{PredictionLimits.MaxNameLength} characters without '/' or '='");
        }

        return labelTime < PredictionLimits.MinTimestamp || labelTime > now + PredictionLimits.MaxFutureSkew
            ? new(RejectionReasons.BadTimestamp, $"'labelTime' {labelTime:O} is before {PredictionLimits.MinTimestamp:yyyy-MM-dd} or more than {PredictionLimits.MaxFutureSkew.TotalMinutes} minutes in the future")
            : null;
    }
}

/// <summary>
/// Labels of one model, as they travel on the label stream or in a grain call. Class names appear once per batch.
/// Replaying a label batch changes nothing: a label equal to the one applied is a no-op, and an older one is stale.
/// </summary>
[GenerateSerializer, Immutable, Alias("cm.LabelBatch")]
public sealed record LabelBatch(
    [property: Id(0)] string Model,
    [property: Id(1)] ImmutableArray<string> Classes,
    [property: Id(2)] string[] PredictionIds,
    [property: Id(3)] ushort[] Actual,
    [property: Id(4)] long[] LabelTimeUtcTicks,
    [property: Id(5)] string?[]? Sources = null)
{
    public int Count => PredictionIds.Length;

    public string? ValidateShape()
    {
        if (PredictionIds is null || Actual is null || LabelTimeUtcTicks is null)
        {
            return "a column is missing";
        }

        var n = PredictionIds.Length;
        if (Actual.Length != n || LabelTimeUtcTicks.Length != n || (Sources is not null && Sources.Length != n))
        {
            return "column lengths differ";
        }

        foreach (var a in Actual)
        {
            if (a >= Classes.Length)
            {
                return "class index out of range";
            }
        }

        return null;
    }
}

/// <summary>Builds a <see cref="LabelBatch"/> one label at a time.</summary>
public sealed class LabelBatchBuilder(string model)
{
    private readonly Dictionary<string, ushort> _classes = new(StringComparer.Ordinal);
    private readonly List<string> _classList = [];
    private readonly List<string> _ids = [];
    private readonly List<ushort> _actual = [];
    private readonly List<long> _times = [];
    private readonly List<string?> _sources = [];
    private bool _anySource;

    public string Model { get; } = model;

    public int Count => _ids.Count;

    public void Add(string predictionId, string actual, DateTimeOffset labelTime, string? source = null)
    {
        if (!_classes.TryGetValue(actual, out var index))
        {
            index = (ushort)_classList.Count;
            _classes.Add(actual, index);
            _classList.Add(actual);
        }

        _ids.Add(predictionId);
        _actual.Add(index);
        _times.Add(labelTime.UtcTicks);
        _sources.Add(source);
        _anySource |= source is not null;
    }

    public LabelBatch Build() => new(Model, [.. _classList], [.. _ids], [.. _actual], [.. _times], _anySource ? [.. _sources] : null);

    public void Clear()
    {
        _classes.Clear();
        _classList.Clear();
        _ids.Clear();
        _actual.Clear();
        _times.Clear();
        _sources.Clear();
        _anySource = false;
    }
}

/// <summary>What became of one label.</summary>
[GenerateSerializer, Alias("cm.LabelOutcome")]
public enum LabelOutcome : byte
{
    /// <summary>The prediction was waiting; its label is now counted.</summary>
    Applied = 0,

    /// <summary>The same class was already applied: nothing changed.</summary>
    Duplicate = 1,

    /// <summary>A different, later label: the prediction moved from the old cell to the new one.</summary>
    Corrected = 2,

    /// <summary>A different label older than the one applied (a replay): ignored.</summary>
    Stale = 3,

    /// <summary>The prediction has not arrived (yet): held for the grace period, then counted as orphaned.</summary>
    Buffered = 4,

    /// <summary>The class is not one of the model's classes.</summary>
    UnknownClass = 5,
}

/// <summary>Predictions awaiting their labels, sent by a version router to one label-join shard.</summary>
[GenerateSerializer, Immutable, Alias("cm.PendingPredictionBatch")]
public sealed record PendingPredictionBatch(
    [property: Id(0)] string Version,
    [property: Id(1)] int ClassCount,
    [property: Id(2)] ImmutableArray<ImmutableArray<string>> SegmentSets,
    [property: Id(3)] string[] PredictionIds,
    [property: Id(4)] ushort[] Predicted,
    [property: Id(5)] long[] EventTimeUtcTicks,
    [property: Id(6)] int[] SegmentSet,
    [property: Id(7)] float[]? Scores = null)
{
    public int Count => PredictionIds.Length;
}

/// <summary>What a label-join shard did with pending predictions or labels.</summary>
[GenerateSerializer, Immutable, Alias("cm.LabelJoinResult")]
public sealed record LabelJoinResult(
    [property: Id(0)] int Applied,
    [property: Id(1)] int Duplicates,
    [property: Id(2)] int Corrected,
    [property: Id(3)] int Stale,
    [property: Id(4)] int Buffered,
    [property: Id(5)] int Expired)
{
    public static readonly LabelJoinResult Empty = new(0, 0, 0, 0, 0, 0);

    public LabelJoinResult Add(LabelJoinResult o) =>
        new(Applied + o.Applied, Duplicates + o.Duplicates, Corrected + o.Corrected, Stale + o.Stale, Buffered + o.Buffered, Expired + o.Expired);
}

/// <summary>What a change to one segment is about.</summary>
[GenerateSerializer, Alias("cm.LabelDeltaKind")]
public enum LabelDeltaKind : byte
{
    /// <summary>The labelled matrix: cell = actual * K + predicted.</summary>
    Labelled = 0,

    /// <summary>Predictions awaiting a label: cell = predicted class.</summary>
    Pending = 1,

    /// <summary>Predictions whose label never came within the time to live: cell = predicted class.</summary>
    Expired = 2,
}

/// <summary>
/// Changes a label-join shard makes to one segment, each at its prediction's event time: a label applied (+1 labelled,
/// -1 pending), a correction (-1 old cell, +1 new cell), a prediction awaiting its label (+1 pending) or expiring
/// (-1 pending, +1 expired). Numbered per shard, so the segment applies each delivery once, like a batch.
/// </summary>
[GenerateSerializer, Immutable, Alias("cm.SegmentLabelDeltas")]
public sealed record SegmentLabelDeltas(
    [property: Id(0)] string ProducerId,
    [property: Id(1)] long Sequence,
    [property: Id(2)] int ClassCount,
    [property: Id(3)] LabelDeltaKind[] Kinds,
    [property: Id(4)] int[] Cells,
    [property: Id(5)] sbyte[] Deltas,
    [property: Id(6)] long[] EventTimeUtcTicks,
    [property: Id(7)] long[] LabelLatencyTicks)
{
    public int Count => Cells.Length;
}

/// <summary>Label-join counters of one shard, or of a whole model when summed.</summary>
[GenerateSerializer, Immutable, Alias("cm.LabelJoinStats")]
public sealed record LabelJoinStats(
    [property: Id(0)] long Pending,
    [property: Id(1)] long Labelled,
    [property: Id(2)] long BufferedLabels,
    [property: Id(3)] long Applied,
    [property: Id(4)] long Duplicates,
    [property: Id(5)] long Corrections,
    [property: Id(6)] long Stale,
    [property: Id(7)] long Orphaned,
    [property: Id(8)] long Expired,
    [property: Id(9)] long Evicted,
    [property: Id(10)] long DeliveriesOutstanding)
{
    public static readonly LabelJoinStats Empty = new(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);

    public LabelJoinStats Add(LabelJoinStats o) => new(
        Pending + o.Pending,
        Labelled + o.Labelled,
        BufferedLabels + o.BufferedLabels,
        Applied + o.Applied,
        Duplicates + o.Duplicates,
        Corrections + o.Corrections,
        Stale + o.Stale,
        Orphaned + o.Orphaned,
        Expired + o.Expired,
        Evicted + o.Evicted,
        DeliveriesOutstanding + o.DeliveriesOutstanding);
}

/// <summary>What a label router did with one batch: the outcome of each label, in order.</summary>
[GenerateSerializer, Immutable, Alias("cm.LabelIngestResult")]
public sealed record LabelIngestResult(
    [property: Id(0)] LabelOutcome[] Outcomes,
    [property: Id(1)] string? Refused = null);

/// <summary>
/// Which predictions of a label-join shard to summarise by score: one version and segment, event times in
/// [<see cref="FromTicks"/>, <see cref="ToTicks"/>); for calibration, labelled predictions with event time before
/// <see cref="CalibrationBeforeTicks"/> (cohorts whose labels had time to arrive), whatever the window.
/// </summary>
[GenerateSerializer, Immutable, Alias("cm.ScoreSummaryQuery")]
public sealed record ScoreSummaryQuery(
    [property: Id(0)] string Version,
    [property: Id(1)] string Segment,
    [property: Id(2)] long FromTicks,
    [property: Id(3)] long ToTicks,
    [property: Id(4)] long CalibrationBeforeTicks,
    [property: Id(5)] int ClassCount,
    [property: Id(6)] int Bins);

/// <summary>
/// Score histograms of the predictions a shard holds (those logged without their label, waiting or labelled) for one
/// version, segment and window: scored predictions by predicted class and bin (count and score sum), the labelled
/// ones among them by matrix cell (actual * classes + predicted), waiting predictions without a usable score by
/// predicted class, and calibration predictions by actual class and bin. Bin arrays are class-major: class * bins + bin.
/// </summary>
[GenerateSerializer, Immutable, Alias("cm.ScoreSummary")]
public sealed record ScoreSummary(
    [property: Id(0)] int ClassCount,
    [property: Id(1)] int Bins,
    [property: Id(2)] long[] ScoredByPredictedBin,
    [property: Id(3)] double[] ScoreSumByPredictedBin,
    [property: Id(4)] long[] ScoredLabelledCells,
    [property: Id(5)] long[] WaitingUnscoredByPredicted,
    [property: Id(6)] long[] CalibrationByActualBin,
    [property: Id(7)] double[] CalibrationScoreSumByBin)
{
    public static ScoreSummary Empty(int classCount, int bins) => new(
        classCount, bins, new long[classCount * bins], new double[classCount * bins], new long[classCount * classCount], new long[classCount],
        new long[classCount * bins], new double[bins]);

    public ScoreSummary Add(ScoreSummary o)
    {
        if (o.ClassCount != ClassCount || o.Bins != Bins)
        {
            throw new ArgumentException($"Cannot add a {o.ClassCount}-class, {o.Bins}-bin summary to a {ClassCount}-class, {Bins}-bin one.");
        }

        return new(ClassCount, Bins, Sum(ScoredByPredictedBin, o.ScoredByPredictedBin), Sum(ScoreSumByPredictedBin, o.ScoreSumByPredictedBin),
            Sum(ScoredLabelledCells, o.ScoredLabelledCells), Sum(WaitingUnscoredByPredicted, o.WaitingUnscoredByPredicted),
            Sum(CalibrationByActualBin, o.CalibrationByActualBin), Sum(CalibrationScoreSumByBin, o.CalibrationScoreSumByBin));
    }

    /// <summary>
    /// Scored predictions of the window by bin, whatever their predicted class, with every
    /// <paramref name="merge"/> adjacent bins added into one.
    /// </summary>
    public long[] ScoredByBin(int merge = 1)
    {
        var byBin = new long[(Bins + merge - 1) / merge];
        for (var i = 0; i < ScoredByPredictedBin.Length; i++)
        {
            byBin[i % Bins / merge] += ScoredByPredictedBin[i];
        }

        return byBin;
    }

    private static long[] Sum(long[] a, long[] b) => [.. a.Zip(b, (x, y) => x + y)];

    private static double[] Sum(double[] a, double[] b) => [.. a.Zip(b, (x, y) => x + y)];
}
