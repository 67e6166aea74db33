using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace ConfusionMatrix.Core;

/// <summary>
/// K x K matrix of 64-bit counts indexed [actual, predicted]. Small K uses a dense row-major array so the
/// per-prediction hot path is a single array increment; large K switches to a dictionary keyed by
/// cell = actual * K + predicted so memory stays proportional to the cells actually observed.
/// </summary>
/// <remarks>Not thread-safe: each owner (an actor) mutates its own instance.</remarks>
public sealed class ConfusionCounts
{
    /// <summary>Largest K whose K*K cell index still fits an <see cref="int"/> (46340² &lt; 2³¹).</summary>
    public const int MaxClassCount = 46340;

    /// <summary>Above this many cells (K &gt; 64) the matrix is stored sparsely.</summary>
    public const int MaxDenseCellCount = 4096;

    private readonly int _classCount;
    private readonly long[]? _dense;
    private readonly Dictionary<int, long>? _sparse;
    private long _total;

    /// <summary>Creates an empty matrix; the representation is fixed by <paramref name="classCount"/>.</summary>
    public ConfusionCounts(int classCount)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(classCount, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(classCount, MaxClassCount);
        _classCount = classCount;
        var cellCount = classCount * classCount;
        if (cellCount <= MaxDenseCellCount)
        {
            _dense = new long[cellCount];
        }
        else
        {
            _sparse = new Dictionary<int, long>();
        }
    }

    public int ClassCount => _classCount;

    public long Total => _total;

    public bool IsSparse => _sparse is not null;

    /// <summary>Number of cells with a non-zero count.</summary>
    public int NonZeroCellCount
    {
        get
        {
            var nonZero = 0;
            foreach ((var _, var _) in NonZeroCells())
            {
                nonZero++;
            }

            return nonZero;
        }
    }

    /// <summary>Count of predictions with the given actual and predicted class.</summary>
    public long this[int actual, int predicted] => GetCell(CellIndex(actual, predicted));

    /// <summary>Approximate managed heap footprint, so callers can budget memory per model.</summary>
    public long EstimatedManagedBytes
    {
        get
        {
            const long objectBytes = 48;
            if (_dense is not null)
            {
                return objectBytes + 24 + (8L * _dense.Length);
            }

            // Dictionary object + buckets (int) + entries (hash, next, key, long value = 24 bytes).
            long capacity = _sparse!.Capacity;
            return objectBytes + 80 + 24 + (4 * capacity) + 24 + (24 * capacity);
        }
    }

    /// <summary>Adds <paramref name="count"/> predictions to one cell. Allocation-free for dense matrices.</summary>
    public void Add(int actual, int predicted, long count = 1)
    {
        var cell = CellIndex(actual, predicted);
        if (count <= 0)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(count);
            return;
        }

        AddToCell(cell, count);
    }

    /// <summary>Adds one prediction per entry of <paramref name="cells"/> (cell = actual*K + predicted).
    /// All cells are validated before any is applied so a bad batch leaves the matrix unchanged.</summary>
    public void AddCells(ReadOnlySpan<int> cells)
    {
        var cellCount = (uint)(_classCount * _classCount);
        foreach (var cell in cells)
        {
            if ((uint)cell >= cellCount)
            {
                throw new ArgumentOutOfRangeException(nameof(cells), cell, $"Cell index must be in [0, {cellCount}).");
            }
        }

        foreach (var cell in cells)
        {
            CellRef(cell)++;
        }

        _total += cells.Length;
    }

    /// <summary>Adds every cell of <paramref name="other"/> into this matrix.</summary>
    public void Merge(ConfusionCounts other)
    {
        RequireSameShape(other);
        foreach ((var cell, var count) in other.NonZeroCells())
        {
            CellRef(cell) += count;
        }

        _total += other._total;
    }

    /// <summary>Removes <paramref name="other"/> from this matrix (window arithmetic: total minus expired part).
    /// Throws without modifying anything if any cell would become negative.</summary>
    public void Subtract(ConfusionCounts other)
    {
        RequireSameShape(other);
        foreach ((var cell, var count) in other.NonZeroCells())
        {
            ref var current = ref ExistingCellRef(cell);
            if (Unsafe.IsNullRef(ref current) || current < count)
            {
                throw NegativeCell(cell);
            }
        }

        foreach ((var cell, var count) in other.NonZeroCells())
        {
            ref var current = ref ExistingCellRef(cell);
            current -= count;
            if (current == 0)
            {
                ForgetEmptyCell(cell);
            }
        }

        _total -= other._total;
    }

    /// <summary>Resets every cell to zero, keeping the allocated storage for reuse.</summary>
    public void Clear()
    {
        if (_dense is not null)
        {
            Array.Clear(_dense);
        }
        else
        {
            _sparse!.Clear();
        }

        _total = 0;
    }

    public ConfusionCounts Clone()
    {
        var copy = new ConfusionCounts(_classCount);
        copy.Merge(this);
        return copy;
    }

    /// <summary>Row-major K*K copy. For large sparse K this allocates K*K longs; prefer <see cref="CopyNonZeroCells"/>.</summary>
    public long[] ToDense()
    {
        var result = new long[(long)_classCount * _classCount];
        foreach ((var cell, var count) in NonZeroCells())
        {
            result[cell] = count;
        }

        return result;
    }

    /// <summary>Jagged copy, rows = actual class, columns = predicted class (JSON-friendly).</summary>
    public long[][] ToRows()
    {
        var rows = new long[_classCount][];
        for (var actual = 0; actual < _classCount; actual++)
        {
            rows[actual] = new long[_classCount];
        }

        foreach ((var cell, var count) in NonZeroCells())
        {
            rows[cell / _classCount][cell % _classCount] = count;
        }

        return rows;
    }

    /// <summary>Builds a matrix from rows (actual) of columns (predicted); must be square and non-negative.</summary>
    public static ConfusionCounts FromRows(IReadOnlyList<IReadOnlyList<long>> rows)
    {
        ArgumentNullException.ThrowIfNull(rows);
        if (rows.Count < 1 || rows.Count > MaxClassCount)
        {
            throw new ArgumentException($"Row count must be between 1 and {MaxClassCount}, was {rows.Count}.", nameof(rows));
        }

        var counts = new ConfusionCounts(rows.Count);
        for (var actual = 0; actual < rows.Count; actual++)
        {
            var row = rows[actual];
            if (row is null || row.Count != rows.Count)
            {
                throw new ArgumentException(
                    $"Matrix must be square: row {actual} has {row?.Count ?? 0} columns, expected {rows.Count}.", nameof(rows));
            }

            for (var predicted = 0; predicted < row.Count; predicted++)
            {
                var value = row[predicted];
                if (value < 0)
                {
                    throw new ArgumentException($"Count at [{actual}, {predicted}] is negative ({value}).", nameof(rows));
                }

                counts.AddToCell((actual * rows.Count) + predicted, value);
            }
        }

        return counts;
    }

    /// <summary>Builds a matrix from a row-major K*K span of non-negative counts.</summary>
    public static ConfusionCounts FromDense(int classCount, ReadOnlySpan<long> rowMajor)
    {
        var counts = new ConfusionCounts(classCount);
        if (rowMajor.Length != (long)classCount * classCount)
        {
            throw new ArgumentException($"Expected {(long)classCount * classCount} cells, got {rowMajor.Length}.", nameof(rowMajor));
        }

        for (var cell = 0; cell < rowMajor.Length; cell++)
        {
            if (rowMajor[cell] < 0)
            {
                throw new ArgumentException($"Cell {cell} is negative ({rowMajor[cell]}).", nameof(rowMajor));
            }

            counts.AddToCell(cell, rowMajor[cell]);
        }

        return counts;
    }

    /// <summary>Clears both lists, then fills them with the non-zero cells in ascending cell order
    /// (deterministic output so persisted state diffs cleanly).</summary>
    public void CopyNonZeroCells(List<int> cells, List<long> counts)
    {
        ArgumentNullException.ThrowIfNull(cells);
        ArgumentNullException.ThrowIfNull(counts);
        cells.Clear();
        counts.Clear();
        foreach ((var cell, var count) in NonZeroCells())
        {
            cells.Add(cell);
            counts.Add(count);
        }

        // A dictionary enumerates in insertion order; sort so equal contents always encode the same way.
        CollectionsMarshal.AsSpan(cells).Sort(CollectionsMarshal.AsSpan(counts));
    }

    /// <summary>Inverse of <see cref="CopyNonZeroCells"/>; repeated cells are summed.</summary>
    public static ConfusionCounts FromCells(int classCount, ReadOnlySpan<int> cells, ReadOnlySpan<long> counts)
    {
        var result = new ConfusionCounts(classCount);
        if (cells.Length != counts.Length)
        {
            throw new ArgumentException($"cells ({cells.Length}) and counts ({counts.Length}) must have the same length.", nameof(counts));
        }

        var cellCount = (uint)(classCount * classCount);
        for (var i = 0; i < cells.Length; i++)
        {
            if ((uint)cells[i] >= cellCount)
            {
                throw new ArgumentOutOfRangeException(nameof(cells), cells[i], $"Cell index must be in [0, {cellCount}).");
            }

            if (counts[i] < 0)
            {
                throw new ArgumentException($"Count for cell {cells[i]} is negative ({counts[i]}).", nameof(counts));
            }

            result.AddToCell(cells[i], counts[i]);
        }

        return result;
    }

    /// <summary>Number of predictions whose actual class is <paramref name="actual"/> (the class support).</summary>
    public long RowTotal(int actual)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)actual, (uint)_classCount, nameof(actual));
        long sum = 0;
        foreach ((var _, var count) in NonZeroCells(actual * _classCount, (actual + 1) * _classCount))
        {
            sum += count;
        }

        return sum;
    }

    /// <summary>Number of predictions of class <paramref name="predicted"/>.</summary>
    public long ColumnTotal(int predicted)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)predicted, (uint)_classCount, nameof(predicted));
        long sum = 0;
        foreach ((var cell, var count) in NonZeroCells())
        {
            if (cell % _classCount == predicted)
            {
                sum += count;
            }
        }

        return sum;
    }

    /// <summary>True when both matrices have the same K and identical cells (representation-independent).</summary>
    public bool ContentEquals(ConfusionCounts? other)
    {
        if (other is null || other._classCount != _classCount || other._total != _total)
        {
            return false;
        }

        // Counts are non-negative and the totals are equal, so if every non-zero cell here matches, the other
        // matrix has nothing left over for any further cell.
        foreach ((var cell, var count) in NonZeroCells())
        {
            if (other.GetCell(cell) != count)
            {
                return false;
            }
        }

        return true;
    }

    internal long GetCell(int cell)
    {
        ref var value = ref ExistingCellRef(cell);
        return Unsafe.IsNullRef(ref value) ? 0 : value;
    }

    /// <summary>Adds a non-negative count to a cell already known to be in range.</summary>
    internal void AddToCell(int cell, long count)
    {
        if (count == 0)
        {
            return;
        }

        CellRef(cell) += count;
        _total += count;
    }

    /// <summary>
    /// Takes one prediction out of a cell (a label correction moves a prediction between cells). Returns false and
    /// changes nothing when the cell is already zero, so a count can never go negative.
    /// </summary>
    public bool TryRemoveOne(int cell)
    {
        if ((uint)cell >= (uint)(_classCount * _classCount))
        {
            throw new ArgumentOutOfRangeException(nameof(cell), cell, $"Cell index must be in [0, {_classCount * _classCount}).");
        }

        ref var current = ref ExistingCellRef(cell);
        if (Unsafe.IsNullRef(ref current) || current == 0)
        {
            return false;
        }

        if (--current == 0)
        {
            ForgetEmptyCell(cell);
        }

        _total--;
        return true;
    }

    /// <summary>Row totals (support), column totals (predicted counts) and diagonal in one O(non-zero) pass.</summary>
    internal void AccumulateMarginals(Span<long> rowTotals, Span<long> columnTotals, Span<long> diagonal)
    {
        var k = _classCount;
        foreach ((var cell, var count) in NonZeroCells())
        {
            var actual = cell / k;
            var predicted = cell - (actual * k);
            rowTotals[actual] += count;
            columnTotals[predicted] += count;
            if (actual == predicted)
            {
                diagonal[actual] += count;
            }
        }
    }

    /// <summary>Non-zero cells as interleaved (cell, count) pairs: the compact persistence encoding.</summary>
    internal long[] ToInterleavedCells()
    {
        var cells = new List<int>();
        var counts = new List<long>();
        CopyNonZeroCells(cells, counts);
        var result = new long[cells.Count * 2];
        for (var i = 0; i < cells.Count; i++)
        {
            result[2 * i] = cells[i];
            result[(2 * i) + 1] = counts[i];
        }

        return result;
    }

    internal static ConfusionCounts FromInterleavedCells(int classCount, long[] interleaved)
    {
        ArgumentNullException.ThrowIfNull(interleaved);
        if (interleaved.Length % 2 != 0)
        {
            throw new ArgumentException("Interleaved cell array must have even length (cell, count pairs).", nameof(interleaved));
        }

        var result = new ConfusionCounts(classCount);
        var cellCount = (long)classCount * classCount;
        for (var i = 0; i < interleaved.Length; i += 2)
        {
            var cell = interleaved[i];
            var count = interleaved[i + 1];
            if (cell < 0 || cell >= cellCount || count < 0)
            {
                throw new ArgumentException($"Invalid cell/count pair ({cell}, {count}).", nameof(interleaved));
            }

            result.AddToCell((int)cell, count);
        }

        return result;
    }

    // The storage primitives: the only places that tell the dense array from the sparse dictionary. Every operation
    // above is written once against them.

    /// <summary>The cell's count by reference, created (zero) in a sparse matrix when absent.</summary>
    private ref long CellRef(int cell)
    {
        if (_dense is not null)
        {
            return ref _dense[cell];
        }

        return ref CollectionsMarshal.GetValueRefOrAddDefault(_sparse!, cell, out _);
    }

    /// <summary>The cell's count by reference, or a null reference when a sparse matrix has no entry for it.</summary>
    private ref long ExistingCellRef(int cell)
    {
        if (_dense is not null)
        {
            return ref _dense[cell];
        }

        return ref CollectionsMarshal.GetValueRefOrNullRef(_sparse!, cell);
    }

    /// <summary>A sparse matrix keeps no zero entries; a dense one needs nothing.</summary>
    private void ForgetEmptyCell(int cell) => _sparse?.Remove(cell);

    /// <summary>The non-zero cells (all, or those in [<paramref name="first"/>, <paramref name="end"/>)), without allocating.</summary>
    internal NonZeroCellEnumerator NonZeroCells(int first = 0, int end = int.MaxValue) => new(this, first, end);

    /// <summary>Walks a dense range skipping zeros, or a sparse dictionary's entries within the range.</summary>
    internal struct NonZeroCellEnumerator(ConfusionCounts counts, int first, int end)
    {
        private readonly long[]? _dense = counts._dense;
        private readonly int _end = counts._dense is { } d ? Math.Min(end, d.Length) : end;
        private readonly int _first = first;
        private Dictionary<int, long>.Enumerator _sparse = counts._sparse is { } s ? s.GetEnumerator() : default;
        private int _cell = first - 1;
        private long _count;

        public readonly (int Cell, long Count) Current => (_cell, _count);

        public readonly NonZeroCellEnumerator GetEnumerator() => this;

        public bool MoveNext()
        {
            if (_dense is not null)
            {
                while (++_cell < _end)
                {
                    if (_dense[_cell] != 0)
                    {
                        _count = _dense[_cell];
                        return true;
                    }
                }

                return false;
            }

            while (_sparse.MoveNext())
            {
                (var cell, var count) = _sparse.Current;
                if (cell >= _first && cell < _end && count != 0)
                {
                    (_cell, _count) = (cell, count);
                    return true;
                }
            }

            return false;
        }
    }

    private int CellIndex(int actual, int predicted)
    {
        if ((uint)actual >= (uint)_classCount)
        {
            throw new ArgumentOutOfRangeException(nameof(actual), actual, $"Class index must be in [0, {_classCount}).");
        }

        if ((uint)predicted >= (uint)_classCount)
        {
            throw new ArgumentOutOfRangeException(nameof(predicted), predicted, $"Class index must be in [0, {_classCount}).");
        }

        return (actual * _classCount) + predicted;
    }

    private void RequireSameShape(ConfusionCounts other)
    {
        ArgumentNullException.ThrowIfNull(other);
        if (other._classCount != _classCount)
        {
            throw new ArgumentException($"Class count mismatch: {other._classCount} vs {_classCount}.", nameof(other));
        }
    }

    private InvalidOperationException NegativeCell(int cell) =>
        new($"Subtract would make cell [{cell / _classCount}, {cell % _classCount}] negative.");
}
