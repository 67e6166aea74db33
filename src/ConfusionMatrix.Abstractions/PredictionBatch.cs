using System.Collections.Immutable;

namespace ConfusionMatrix.Abstractions;

/// <summary>
/// A batch of predictions for one model version, as it travels on the prediction-log stream or in a direct grain call.
/// Columnar and dictionary-encoded: class names and segment values appear once per batch, each prediction is a few
/// integers. That keeps serialisation cost per prediction small, which is what makes stream ingestion fast.
/// A prediction logged before its ground truth is known has <see cref="NoActual"/> as its actual label; such a batch
/// carries <see cref="PredictionIds"/>, the key its later label joins on. <see cref="Scores"/> is optional (NaN = none).
/// <see cref="ValidatedAgainst"/> is set by an edge that checked every row against the model's registration (its
/// <see cref="ModelDefinition.UpdatedAt"/>); its <see cref="Labels"/> are then that registration's classes in order.
/// </summary>
[GenerateSerializer, Immutable, Alias("cm.PredictionBatch")]
public sealed record PredictionBatch(
    [property: Id(0)] string Model,
    [property: Id(1)] string Version,
    [property: Id(2)] string ProducerId,
    [property: Id(3)] long Sequence,
    [property: Id(4)] ImmutableArray<string> Labels,
    [property: Id(5)] ushort[] Actual,
    [property: Id(6)] ushort[] Predicted,
    [property: Id(7)] long[] TimestampUtcTicks,
    [property: Id(8)] ImmutableArray<string> Dimensions,
    [property: Id(9)] ImmutableArray<string> SegmentValues,
    [property: Id(10)] int[] SegmentValueIndex,
    [property: Id(11)] string[]? PredictionIds = null,
    [property: Id(12)] float[]? Scores = null,
    [property: Id(13)] string? TraceParent = null,
    [property: Id(14)] DateTimeOffset? ValidatedAgainst = null)
{
    /// <summary>Marks a prediction that carries no value for a dimension.</summary>
    public const int NoSegmentValue = -1;

    /// <summary>The actual label of a prediction whose ground truth arrives later, as a label record.</summary>
    public const ushort NoActual = ushort.MaxValue;

    public int Count => Actual.Length;

    /// <summary>Application batch id used for replay detection: producer id plus its sequence number.</summary>
    public string BatchId => $"{ProducerId}:{Sequence}";

    /// <summary>
    /// Whether the rows were checked at the edge against a registration with exactly <paramref name="classes"/>: every
    /// label index is then a class index, and the per-row rules (ids, timestamps, segment values) already held.
    /// </summary>
    public bool IsValidatedFor(ImmutableArray<string> classes) =>
        ValidatedAgainst is not null && Labels.AsSpan().SequenceEqual(classes.AsSpan());

    /// <summary>Checks that the columns agree in length and every index is in range; returns the problem or null.</summary>
    public string? ValidateShape()
    {
        if (Actual is null || Predicted is null || TimestampUtcTicks is null || SegmentValueIndex is null)
        {
            return "a column is missing";
        }

        var n = Actual.Length;
        if (Predicted.Length != n || TimestampUtcTicks.Length != n)
        {
            return "column lengths differ";
        }

        if (SegmentValueIndex.Length != n * Dimensions.Length)
        {
            return "segment index column has the wrong length";
        }

        var unlabelled = false;
        for (var i = 0; i < n; i++)
        {
            if ((Actual[i] >= Labels.Length && Actual[i] != NoActual) || Predicted[i] >= Labels.Length)
            {
                return $"label index out of range at {i}";
            }

            unlabelled |= Actual[i] == NoActual;
        }

        if (PredictionIds is not null ? PredictionIds.Length != n : unlabelled)
        {
            return "a batch with predictions awaiting their label needs one prediction id per prediction";
        }

        if (Scores is not null && Scores.Length != n)
        {
            return "score column has the wrong length";
        }

        foreach (var v in SegmentValueIndex)
        {
            if (v < NoSegmentValue || v >= SegmentValues.Length)
            {
                return "segment value index out of range";
            }
        }

        return null;
    }
}

/// <summary>Builds a <see cref="PredictionBatch"/> one prediction at a time, dictionary-encoding names as it goes.</summary>
public sealed class PredictionBatchBuilder
{
    private readonly Dictionary<string, ushort> _labels = new(StringComparer.Ordinal);
    private readonly Dictionary<string, ushort>.AlternateLookup<ReadOnlySpan<char>> _labelsBySpan;
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _dimensionsBySpan;
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _valuesBySpan;
    private readonly List<string> _labelList = [];
    private readonly Dictionary<string, int> _dimensions = new(StringComparer.Ordinal);
    private readonly List<string> _dimensionList = [];
    private readonly Dictionary<string, int> _values = new(StringComparer.Ordinal);
    private readonly List<string> _valueList = [];
    private readonly List<ushort> _actual = [];
    private readonly List<ushort> _predicted = [];
    private readonly List<long> _ticks = [];
    private readonly List<(int Row, int Dimension, int Value)> _segments = [];
    private readonly List<string?> _ids = [];
    private readonly List<float> _scores = [];
    private bool _anyUnlabelled;
    private bool _anyScore;

    public PredictionBatchBuilder(string model, string version)
    {
        Model = model;
        Version = version;
        _labelsBySpan = _labels.GetAlternateLookup<ReadOnlySpan<char>>();
        _dimensionsBySpan = _dimensions.GetAlternateLookup<ReadOnlySpan<char>>();
        _valuesBySpan = _values.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    /// <summary>
    /// A batch for predictions checked against <paramref name="definition"/> before they are added: its labels are the
    /// definition's classes in order (a label index is a class index), and the batch says so, so the router neither
    /// re-maps nor re-checks its rows.
    /// </summary>
    public PredictionBatchBuilder(ModelDefinition definition, string version)
        : this(definition.Model, version)
    {
        Definition = definition;
        foreach (var c in definition.Classes)
        {
            Label(c);
        }
    }

    public string Model { get; }

    public string Version { get; }

    public int Count => _actual.Count;

    /// <summary>The registration the rows are checked against, when built for one.</summary>
    public ModelDefinition? Definition { get; }

    /// <summary>Distinct labels so far.</summary>
    public int LabelCount => _labelList.Count;

    /// <summary>The index of a label already in the batch, or -1.</summary>
    public int FindLabel(ReadOnlySpan<char> name) => _labelsBySpan.TryGetValue(name, out var index) ? index : -1;

    /// <summary>The index of a label, added to the batch (one string, the first time) when new.</summary>
    public ushort LabelIndex(ReadOnlySpan<char> name) =>
        _labelsBySpan.TryGetValue(name, out var index) ? index : Label(new string(name));

    /// <summary>
    /// Adds one prediction by label index (<see cref="PredictionBatch.NoActual"/> when it awaits its label, which then
    /// needs <paramref name="predictionId"/>); its segments follow with <see cref="AddSegment"/>. Checking the row is
    /// the caller's: the reader of the public format does it.
    /// </summary>
    public void AddRow(ushort actual, ushort predicted, long timestampUtcTicks, string? predictionId, double? score)
    {
        _actual.Add(actual);
        _predicted.Add(predicted);
        _ticks.Add(timestampUtcTicks);
        _ids.Add(predictionId);
        _scores.Add(score is { } s ? (float)s : float.NaN);
        _anyUnlabelled |= actual == PredictionBatch.NoActual;
        _anyScore |= score is not null;
    }

    /// <summary>
    /// A segment of the last row added. Dimension and value are dictionary-encoded from their characters: a name seen
    /// before in the batch costs a lookup, not a string.
    /// </summary>
    public void AddSegment(ReadOnlySpan<char> dimension, ReadOnlySpan<char> value)
    {
        if (!_dimensionsBySpan.TryGetValue(dimension, out var d))
        {
            var name = new string(dimension);
            d = _dimensionList.Count;
            _dimensions.Add(name, d);
            _dimensionList.Add(name);
        }

        if (!_valuesBySpan.TryGetValue(value, out var v))
        {
            var text = new string(value);
            v = _valueList.Count;
            _values.Add(text, v);
            _valueList.Add(text);
        }

        _segments.Add((_actual.Count - 1, d, v));
    }

    /// <summary>
    /// Adds one prediction. A null <paramref name="actual"/> logs it as awaiting its label, which then needs
    /// <paramref name="predictionId"/>. Segment pairs with a null or empty value are the caller's to reject beforehand.
    /// </summary>
    public void Add(
        string? actual,
        string predicted,
        DateTimeOffset timestamp,
        IEnumerable<KeyValuePair<string, string>>? segments = null,
        string? predictionId = null,
        double? score = null)
    {
        if (actual is null && string.IsNullOrEmpty(predictionId))
        {
            throw new ArgumentException("A prediction without its actual label needs a prediction id to join the label on.", nameof(predictionId));
        }

        var row = _actual.Count;
        _actual.Add(actual is null ? PredictionBatch.NoActual : Label(actual));
        _predicted.Add(Label(predicted));
        _ticks.Add(timestamp.UtcTicks);
        _ids.Add(predictionId);
        _scores.Add(score is { } s ? (float)s : float.NaN);
        _anyUnlabelled |= actual is null;
        _anyScore |= score is not null;
        if (segments is null)
        {
            return;
        }

        foreach (var (dimension, value) in segments)
        {
            if (!_dimensions.TryGetValue(dimension, out var d))
            {
                d = _dimensionList.Count;
                _dimensions.Add(dimension, d);
                _dimensionList.Add(dimension);
            }

            if (!_values.TryGetValue(value, out var v))
            {
                v = _valueList.Count;
                _values.Add(value, v);
                _valueList.Add(value);
            }

            _segments.Add((row, d, v));
        }
    }

    public PredictionBatch Build(string producerId, long sequence)
    {
        var n = _actual.Count;
        var dims = _dimensionList.Count;
        var index = new int[n * dims];
        Array.Fill(index, PredictionBatch.NoSegmentValue);
        foreach (var (row, d, v) in _segments)
        {
            index[(row * dims) + d] = v;
        }

        return new PredictionBatch(
            Model,
            Version,
            producerId,
            sequence,
            [.. _labelList],
            [.. _actual],
            [.. _predicted],
            [.. _ticks],
            [.. _dimensionList],
            [.. _valueList],
            index,
            _anyUnlabelled ? [.. _ids.Select(id => id ?? "")] : null,
            _anyScore ? [.. _scores] : null,

            // The W3C trace context of whoever builds the batch, so the consumer's work joins the producer's trace.
            System.Diagnostics.Activity.Current?.Id,
            Definition?.UpdatedAt);
    }

    public void Clear()
    {
        _labels.Clear();
        _labelList.Clear();
        if (Definition is not null)
        {
            foreach (var c in Definition.Classes)
            {
                Label(c);
            }
        }

        _dimensions.Clear();
        _dimensionList.Clear();
        _values.Clear();
        _valueList.Clear();
        _actual.Clear();
        _predicted.Clear();
        _ticks.Clear();
        _segments.Clear();
        _ids.Clear();
        _scores.Clear();
        _anyUnlabelled = false;
        _anyScore = false;
    }

    private ushort Label(string name)
    {
        if (!_labels.TryGetValue(name, out var index))
        {
            if (_labelList.Count >= PredictionBatch.NoActual)
            {
                throw new InvalidOperationException("A batch may carry at most 65535 distinct labels.");
            }

            index = (ushort)_labelList.Count;
            _labels.Add(name, index);
            _labelList.Add(name);
        }

        return index;
    }
}
