using System.Runtime.InteropServices;
using ConfusionMatrix.Abstractions;
using ConfusionMatrix.Api.Contracts;
using ConfusionMatrix.Cli.Input;
using ConfusionMatrix.Core;

namespace ConfusionMatrix.Cli.Evaluation;

/// <summary>
/// Counts a prediction file's matrices, per (model, version), for segment <c>all</c> and each requested
/// <c>dimension=value</c>, in one pass and in memory proportional to classes x segments (never to the file).
/// Without fixed classes, labels are discovered and reported in sorted order, as scikit-learn does.
/// </summary>
public sealed class PredictionEvaluator
{
    private readonly Dictionary<string, int> _labels = new(StringComparer.Ordinal);
    private readonly List<string> _labelNames = [];
    private readonly bool _fixedClasses;
    private readonly string[] _dimensions;
    private readonly Dictionary<(string Model, string Version), Group> _groups = [];
    private readonly Dictionary<string, long> _rejected = new(StringComparer.Ordinal);
    private Group? _last;
    private string? _firstRejection;

    public PredictionEvaluator(IReadOnlyList<string>? classes, IReadOnlyList<string>? segmentDimensions)
    {
        if (classes is { Count: > 0 })
        {
            foreach (var c in classes)
            {
                if (!_labels.TryAdd(c, _labelNames.Count))
                {
                    throw new ArgumentException($"class '{c}' is listed twice", nameof(classes));
                }

                _labelNames.Add(c);
            }

            _fixedClasses = true;
        }

        _dimensions = [.. segmentDimensions ?? []];
    }

    /// <summary>Records read, counted or not.</summary>
    public long Records { get; private set; }

    /// <summary>Records counted in the <c>all</c> matrix of their group.</summary>
    public long Counted { get; private set; }

    /// <summary>Records not counted, by reason (malformed, missing_field, unknown_class).</summary>
    public IReadOnlyDictionary<string, long> Rejected => _rejected;

    /// <summary>The first rejected record's reason, for the message.</summary>
    public string? FirstRejection => _firstRejection;

    public void Add(RowBlock block)
    {
        var rows = block.Rows.AsSpan(0, block.Count);
        for (var i = 0; i < rows.Length; i++)
        {
            ref readonly var row = ref rows[i];
            Records++;
            if (row.Error is { } error)
            {
                Reject("malformed", error);
                continue;
            }

            if (row.Actual is null || row.Predicted is null)
            {
                Reject("missing_field", $"record {row.Position + 1} lacks 'actual' or 'predicted'");
                continue;
            }

            var actual = Label(row.Actual);
            var predicted = Label(row.Predicted);
            if (actual < 0 || predicted < 0)
            {
                Reject("unknown_class", $"record {row.Position + 1}: class '{(actual < 0 ? row.Actual : row.Predicted)}' is not one of --classes");
                continue;
            }

            var group = GroupOf(row.Model ?? "", row.Version ?? "");
            group.All.Add(actual, predicted);
            Counted++;
            if (_dimensions.Length == 0)
            {
                continue;
            }

            foreach (var (dimension, value) in block.SegmentsOf(row))
            {
                var d = Array.IndexOf(_dimensions, dimension);
                if (d < 0)
                {
                    continue;
                }

                ref var matrix = ref CollectionsMarshal.GetValueRefOrAddDefault(group.Segments[d], value, out _);
                matrix ??= new GrowableMatrix();
                matrix.Add(actual, predicted);
            }
        }
    }

    /// <summary>The reports: per group, <c>all</c> first, then each dimension's values in order.</summary>
    public IReadOnlyList<MatrixResponse> Reports(DateTimeOffset asOf)
    {
        // Report order of classes: as given, or sorted like sklearn's unique labels.
        int[] order = _fixedClasses
            ? [.. Enumerable.Range(0, _labelNames.Count)]
            : [.. Enumerable.Range(0, _labelNames.Count).OrderBy(i => _labelNames[i], StringComparer.Ordinal)];
        string[] classes = [.. order.Select(i => _labelNames[i])];
        var reports = new List<MatrixResponse>();
        foreach (var ((model, version), group) in _groups.OrderBy(g => g.Key.Model, StringComparer.Ordinal).ThenBy(g => g.Key.Version, StringComparer.Ordinal))
        {
            reports.Add(MatrixReport.Create(model, version, Segments.All, classes, group.All.ToCounts(order), asOf));
            for (var d = 0; d < _dimensions.Length; d++)
            {
                foreach (var (value, matrix) in group.Segments[d].OrderBy(kv => kv.Key, StringComparer.Ordinal))
                {
                    reports.Add(MatrixReport.Create(model, version, Segments.For(_dimensions[d], value), classes, matrix.ToCounts(order), asOf));
                }
            }
        }

        return reports;
    }

    private int Label(string name)
    {
        if (_labels.TryGetValue(name, out var index))
        {
            return index;
        }

        if (_fixedClasses)
        {
            return -1;
        }

        if (_labelNames.Count >= ConfusionCounts.MaxClassCount)
        {
            return -1;
        }

        index = _labelNames.Count;
        _labels.Add(name, index);
        _labelNames.Add(name);
        return index;
    }

    private Group GroupOf(string model, string version)
    {
        if (_last is { } last && ReferenceEquals(last.Model, model) && ReferenceEquals(last.Version, version))
        {
            return last;
        }

        ref var group = ref CollectionsMarshal.GetValueRefOrAddDefault(_groups, (model, version), out _);
        group ??= new Group(model, version, _dimensions.Length);
        _last = group;
        return group;
    }

    private void Reject(string reason, string detail)
    {
        _rejected[reason] = _rejected.GetValueOrDefault(reason) + 1;
        _firstRejection ??= detail;
    }

    private sealed class Group(string model, string version, int dimensions)
    {
        public string Model { get; } = model;

        public string Version { get; } = version;

        public GrowableMatrix All { get; } = new();

        public Dictionary<string, GrowableMatrix>[] Segments { get; } = [.. Enumerable.Range(0, dimensions).Select(_ => new Dictionary<string, GrowableMatrix>(StringComparer.Ordinal))];
    }

    /// <summary>A dense K x K count matrix that grows when a new label appears.</summary>
    private sealed class GrowableMatrix
    {
        private long[] _cells = new long[16];
        private int _side = 4;

        public void Add(int actual, int predicted)
        {
            var needed = Math.Max(actual, predicted) + 1;
            if (needed > _side)
            {
                Grow(needed);
            }

            _cells[(actual * _side) + predicted]++;
        }

        /// <summary>Counts with rows and columns permuted into report order (<paramref name="order"/>[i] = label of class i).</summary>
        public ConfusionCounts ToCounts(int[] order)
        {
            var k = order.Length;
            var counts = new ConfusionCounts(Math.Max(k, 1));
            for (var i = 0; i < k; i++)
            {
                for (var j = 0; j < k; j++)
                {
                    int a = order[i], p = order[j];
                    if (a < _side && p < _side && _cells[(a * _side) + p] is var n and > 0)
                    {
                        counts.Add(i, j, n);
                    }
                }
            }

            return counts;
        }

        private void Grow(int needed)
        {
            var side = Math.Max(needed, _side * 2);
            var cells = new long[side * side];
            for (var a = 0; a < _side; a++)
            {
                Array.Copy(_cells, a * _side, cells, a * side, _side);
            }

            _cells = cells;
            _side = side;
        }
    }
}
