namespace ConfusionMatrix.Core.Tests;

public sealed class ConfusionCountsTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(ConfusionCounts.MaxClassCount + 1)]
    public void Constructor_RejectsClassCountOutOfRange(int classCount)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new ConfusionCounts(classCount));
    }

    [Theory]
    [InlineData(1, false)]
    [InlineData(64, false)]
    [InlineData(65, true)]
    [InlineData(1000, true)]
    public void Representation_IsDenseUpTo64Classes(int classCount, bool sparse)
    {
        Assert.Equal(sparse, new ConfusionCounts(classCount).IsSparse);
    }

    [Fact]
    public void Add_OutOfRangeClass_Throws()
    {
        var counts = new ConfusionCounts(3);

        Assert.Throws<ArgumentOutOfRangeException>(() => counts.Add(3, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => counts.Add(0, -1));
        Assert.Throws<ArgumentOutOfRangeException>(() => counts.Add(0, 0, -2));
        Assert.Equal(0, counts.Total);
    }

    [Fact]
    public void Sparse1000Classes_MatchesManualCount()
    {
        const int k = 1000;
        var random = new Random(42);
        var manual = new Dictionary<(int, int), long>();
        var counts = new ConfusionCounts(k);
        for (var i = 0; i < 20_000; i++)
        {
            var actual = random.Next(k);
            var predicted = random.Next(3) == 0 ? random.Next(k) : actual;
            counts.Add(actual, predicted);
            manual[(actual, predicted)] = manual.GetValueOrDefault((actual, predicted)) + 1;
        }

        Assert.True(counts.IsSparse);
        Assert.Equal(20_000, counts.Total);
        Assert.Equal(manual.Count, counts.NonZeroCellCount);
        foreach (var ((actual, predicted), value) in manual)
        {
            Assert.Equal(value, counts[actual, predicted]);
        }

        for (var c = 0; c < k; c += 97)
        {
            Assert.Equal(manual.Where(e => e.Key.Item1 == c).Sum(e => e.Value), counts.RowTotal(c));
            Assert.Equal(manual.Where(e => e.Key.Item2 == c).Sum(e => e.Value), counts.ColumnTotal(c));
        }

        var unseenPredicted = Enumerable.Range(0, k).First(p => !manual.ContainsKey((5, p)));
        Assert.Equal(0, counts[5, unseenPredicted]);
        Assert.True(counts.EstimatedManagedBytes < 2_000_000, "sparse memory must scale with non-zero cells, not K*K");
    }

    [Fact]
    public void SparseMemory_IsProportionalToNonZeroCells()
    {
        var counts = new ConfusionCounts(1000);
        counts.Add(1, 2);
        counts.Add(999, 0, 5);

        Assert.Equal(2, counts.NonZeroCellCount);
        Assert.True(counts.EstimatedManagedBytes < 1024, $"two cells took {counts.EstimatedManagedBytes} bytes");
    }

    [Fact]
    public void AddCells_EqualsAdd_ForDenseAndSparse()
    {
        foreach (var k in new[] { 5, 300 })
        {
            var random = new Random(k);
            var viaAdd = new ConfusionCounts(k);
            var cells = new int[1000];
            for (var i = 0; i < cells.Length; i++)
            {
                int actual = random.Next(k), predicted = random.Next(k);
                viaAdd.Add(actual, predicted);
                cells[i] = (actual * k) + predicted;
            }

            var viaCells = new ConfusionCounts(k);
            viaCells.AddCells(cells);

            Assert.True(viaAdd.ContentEquals(viaCells));
            Assert.Equal(1000, viaCells.Total);
        }
    }

    [Fact]
    public void AddCells_InvalidCell_ThrowsAndLeavesMatrixUnchanged()
    {
        var counts = new ConfusionCounts(2);

        Assert.Throws<ArgumentOutOfRangeException>(() => counts.AddCells([0, 1, 4]));
        Assert.Equal(0, counts.Total);
        Assert.Equal(0, counts.NonZeroCellCount);
    }

    [Theory]
    [InlineData(3)]
    [InlineData(200)]
    public void MergeThenSubtract_RestoresOriginal(int k)
    {
        var a = new ConfusionCounts(k);
        var b = new ConfusionCounts(k);
        a.Add(0, 1, 4);
        a.Add(2, 2, 1);
        b.Add(0, 1, 3);
        b.Add(1, 0, 7);
        var original = a.Clone();

        a.Merge(b);
        Assert.Equal(7, a[0, 1]);
        Assert.Equal(7, a[1, 0]);
        Assert.Equal(15, a.Total);

        a.Subtract(b);
        Assert.True(a.ContentEquals(original));
        Assert.Equal(2, a.NonZeroCellCount);
    }

    [Theory]
    [InlineData(2)]
    [InlineData(100)]
    public void Subtract_MoreThanPresent_ThrowsAndLeavesMatrixUnchanged(int k)
    {
        var a = new ConfusionCounts(k);
        a.Add(0, 0, 5);
        a.Add(1, 1, 1);
        var b = new ConfusionCounts(k);
        b.Add(0, 0, 2);
        b.Add(1, 1, 2);

        Assert.Throws<InvalidOperationException>(() => a.Subtract(b));
        Assert.Equal(5, a[0, 0]);
        Assert.Equal(1, a[1, 1]);
        Assert.Equal(6, a.Total);
    }

    [Fact]
    public void Merge_DifferentClassCount_Throws()
    {
        Assert.Throws<ArgumentException>(() => new ConfusionCounts(2).Merge(new ConfusionCounts(3)));
    }

    [Fact]
    public void FromRows_Validates()
    {
        Assert.Throws<ArgumentException>(() => ConfusionCounts.FromRows([]));
        Assert.Throws<ArgumentException>(() => ConfusionCounts.FromRows([[1, 2], [3]]));
        Assert.Throws<ArgumentException>(() => ConfusionCounts.FromRows([[1, 2, 3], [4, 5, 6]]));
        var negative = Assert.Throws<ArgumentException>(() => ConfusionCounts.FromRows([[1, -2], [3, 4]]));
        Assert.Contains("[0, 1]", negative.Message);
    }

    [Fact]
    public void FromRows_ToRows_RoundTrip()
    {
        long[][] rows = [[1, 2, 3], [4, 5, 6], [7, 8, 9]];

        var counts = ConfusionCounts.FromRows(rows);

        Assert.Equal(rows, counts.ToRows());
        Assert.Equal(45, counts.Total);
        Assert.Equal(15, counts.RowTotal(1));
        Assert.Equal(18, counts.ColumnTotal(2));
        Assert.Equal([1, 2, 3, 4, 5, 6, 7, 8, 9], counts.ToDense());
    }

    [Fact]
    public void FromDense_Validates()
    {
        Assert.Throws<ArgumentException>(() => ConfusionCounts.FromDense(2, [1, 2, 3]));
        Assert.Throws<ArgumentException>(() => ConfusionCounts.FromDense(2, [1, 2, 3, -1]));
        Assert.Equal(10, ConfusionCounts.FromDense(2, [1, 2, 3, 4]).Total);
    }

    [Theory]
    [InlineData(4)]
    [InlineData(1000)]
    public void CopyNonZeroCells_FromCells_RoundTrip(int k)
    {
        var counts = new ConfusionCounts(k);
        counts.Add(k - 1, 0, 9);
        counts.Add(0, k - 1, 2);
        counts.Add(1, 1, 3);
        var cells = new List<int> { 12345 };
        var values = new List<long>();

        counts.CopyNonZeroCells(cells, values);
        var restored = ConfusionCounts.FromCells(k, cells.ToArray(), values.ToArray());

        Assert.Equal([k - 1, k + 1, (k - 1) * k], cells);
        Assert.Equal([2L, 3L, 9L], values);
        Assert.True(restored.ContentEquals(counts));
        Assert.Equal(counts.IsSparse, restored.IsSparse);
    }

    [Fact]
    public void FromCells_Validates()
    {
        Assert.Throws<ArgumentException>(() => ConfusionCounts.FromCells(2, [0, 1], [1]));
        Assert.Throws<ArgumentOutOfRangeException>(() => ConfusionCounts.FromCells(2, [4], [1]));
        Assert.Throws<ArgumentException>(() => ConfusionCounts.FromCells(2, [0], [-1]));
        Assert.Equal(5, ConfusionCounts.FromCells(2, [3, 3], [2, 3])[1, 1]);
    }

    [Fact]
    public void Clear_ResetsCountsAndTotal()
    {
        var counts = ConfusionCounts.FromRows([[1, 2], [3, 4]]);

        counts.Clear();

        Assert.Equal(0, counts.Total);
        Assert.Equal(0, counts.NonZeroCellCount);
        Assert.Equal([0L, 0L, 0L, 0L], counts.ToDense());
    }

    [Fact]
    public void Clone_IsIndependent()
    {
        var counts = ConfusionCounts.FromRows([[1, 2], [3, 4]]);
        var clone = counts.Clone();

        clone.Add(0, 0, 10);

        Assert.Equal(1, counts[0, 0]);
        Assert.Equal(11, clone[0, 0]);
    }
}
