using System.Collections.Immutable;

namespace ConfusionMatrix.Abstractions;

/// <summary>
/// A batch of predictions for one model version, as it travels on the prediction-log stream or in a direct grain call.
/// Columnar and dictionary-encoded: class names and segment values appear once per batch, each prediction is a few
/// integers. That keeps serialisation cost per prediction small, which is what makes stream ingestion fast.
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
    [property: Id(10)] int[] SegmentValueIndex)
{
    /// <summary>Marks a prediction that carries no value for a dimension.</summary>
    public const int NoSegmentValue = -1;

    public int Count => Actual.Length;

    /// <summary>Application batch id used for replay detection: producer id plus its sequence number.</summary>
    public string BatchId => $"{ProducerId}:{Sequence}";

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

        for (var i = 0; i < n; i++)
        {
            if (Actual[i] >= Labels.Length || Predicted[i] >= Labels.Length)
            {
                return $"label index out of range at {i}";
            }
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
    private readonly List<string> _labelList = [];
    private readonly Dictionary<string, int> _dimensions = new(StringComparer.Ordinal);
    private readonly List<string> _dimensionList = [];
    private readonly Dictionary<string, int> _values = new(StringComparer.Ordinal);
    private readonly List<string> _valueList = [];
    private readonly List<ushort> _actual = [];
    private readonly List<ushort> _predicted = [];
    private readonly List<long> _ticks = [];
    private readonly List<(int Row, int Dimension, int Value)> _segments = [];

    public PredictionBatchBuilder(string model, string version)
    {
        Model = model;
        Version = version;
    }

    public string Model { get; }

    public string Version { get; }

    public int Count => _actual.Count;

    /// <summary>Adds one prediction. Segment pairs with a null or empty value are the caller's to reject beforehand.</summary>
    public void Add(string actual, string predicted, DateTimeOffset timestamp, IEnumerable<KeyValuePair<string, string>>? segments = null)
    {
        var row = _actual.Count;
        _actual.Add(Label(actual));
        _predicted.Add(Label(predicted));
        _ticks.Add(timestamp.UtcTicks);
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
            index);
    }

    public void Clear()
    {
        _labels.Clear();
        _labelList.Clear();
        _dimensions.Clear();
        _dimensionList.Clear();
        _values.Clear();
        _valueList.Clear();
        _actual.Clear();
        _predicted.Clear();
        _ticks.Clear();
        _segments.Clear();
    }

    private ushort Label(string name)
    {
        if (!_labels.TryGetValue(name, out var index))
        {
            if (_labelList.Count >= ushort.MaxValue)
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
