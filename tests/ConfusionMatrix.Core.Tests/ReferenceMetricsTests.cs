using System.Text.Json;

namespace ConfusionMatrix.Core.Tests;

public sealed class ReferenceMetricsTests
{
    public static IEnumerable<object[]> Cases() => ReferenceData.CaseNames();

    [Theory]
    [MemberData(nameof(Cases))]
    public void Counts_BuiltFromLabels_MatchReference(string source, string name)
    {
        var testCase = ReferenceData.Case(source, name);
        var counts = BuildFromLabels(testCase);
        var expected = ReferenceData.Matrix(testCase.GetProperty("expected").GetProperty("counts"));

        Assert.Equal(expected, counts.ToRows());
        Assert.Equal(testCase.GetProperty("expected").GetProperty("total").GetInt64(), counts.Total);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void ScalarMetrics_MatchReference(string source, string name)
    {
        var testCase = ReferenceData.Case(source, name);
        var expected = testCase.GetProperty("expected");
        var metrics = MetricsCalculator.Compute(BuildFromLabels(testCase));

        Assert.Equal(expected.GetProperty("total").GetInt64(), metrics.Total);
        Approx.Equal(expected.GetProperty("accuracy").GetDouble(), metrics.Accuracy, "accuracy");
        Approx.Equal(expected.GetProperty("balancedAccuracy").GetDouble(), metrics.BalancedAccuracy, "balancedAccuracy");
        Approx.Equal(expected.GetProperty("mcc").GetDouble(), metrics.Mcc, "mcc");
        Approx.Equal(expected.GetProperty("cohenKappa").GetDouble(), metrics.CohenKappa, "cohenKappa");
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void PerClassMetrics_MatchReference(string source, string name)
    {
        var testCase = ReferenceData.Case(source, name);
        var classes = Classes(testCase);
        var perClass = testCase.GetProperty("expected").GetProperty("perClass");
        var metrics = MetricsCalculator.Compute(BuildFromLabels(testCase));

        Assert.Equal(classes.Length, metrics.PerClass.Count);
        for (var c = 0; c < classes.Length; c++)
        {
            var expected = perClass.GetProperty(classes[c]);
            var actual = metrics.PerClass[c];
            Assert.Equal(expected.GetProperty("tp").GetInt64(), actual.Tp);
            Assert.Equal(expected.GetProperty("fp").GetInt64(), actual.Fp);
            Assert.Equal(expected.GetProperty("fn").GetInt64(), actual.Fn);
            Assert.Equal(expected.GetProperty("tn").GetInt64(), actual.Tn);
            Assert.Equal(expected.GetProperty("support").GetInt64(), actual.Support);
            Approx.Equal(expected.GetProperty("precision").GetDouble(), actual.Precision, $"{classes[c]}.precision");
            Approx.Equal(expected.GetProperty("recall").GetDouble(), actual.Recall, $"{classes[c]}.recall");
            Approx.Equal(expected.GetProperty("f1").GetDouble(), actual.F1, $"{classes[c]}.f1");
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void AveragedMetrics_MatchReference(string source, string name)
    {
        var testCase = ReferenceData.Case(source, name);
        var expected = testCase.GetProperty("expected");
        var metrics = MetricsCalculator.Compute(BuildFromLabels(testCase));

        AssertAverage(expected.GetProperty("macro"), metrics.Macro, "macro");
        AssertAverage(expected.GetProperty("micro"), metrics.Micro, "micro");
        AssertAverage(expected.GetProperty("weighted"), metrics.Weighted, "weighted");
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Metrics_FromExpectedCountsRows_EqualMetricsFromLabels(string source, string name)
    {
        var testCase = ReferenceData.Case(source, name);
        var fromRows = ConfusionCounts.FromRows(ReferenceData.Matrix(testCase.GetProperty("expected").GetProperty("counts")));

        Assert.Equal(MetricsCalculator.Compute(BuildFromLabels(testCase)).PerClass, MetricsCalculator.Compute(fromRows).PerClass);
    }

    [Fact]
    public void EmptyMatrix_AllMetricsZero()
    {
        var metrics = MetricsCalculator.Compute(new ConfusionCounts(3));

        Assert.Equal(0, metrics.Total);
        Assert.Equal(0, metrics.Accuracy);
        Assert.Equal(0, metrics.BalancedAccuracy);
        Assert.Equal(0, metrics.Mcc);
        Assert.Equal(0, metrics.CohenKappa);
        Assert.Equal(new AveragedMetrics(0, 0, 0), metrics.Macro);
        Assert.Equal(new AveragedMetrics(0, 0, 0), metrics.Micro);
        Assert.Equal(new AveragedMetrics(0, 0, 0), metrics.Weighted);
        Assert.All(metrics.PerClass, c => Assert.Equal(new ClassMetrics(0, 0, 0, 0, 0, 0, 0, 0), c));
    }

    [Fact]
    public void SparseMatrix_PerClassCountsMatchBruteForce()
    {
        const int k = 150;
        var random = new Random(7);
        var counts = new ConfusionCounts(k);
        for (var i = 0; i < 5000; i++)
        {
            var actual = random.Next(k);
            counts.Add(actual, random.Next(4) == 0 ? random.Next(k) : actual);
        }

        Assert.True(counts.IsSparse);
        var metrics = MetricsCalculator.Compute(counts);
        var rows = counts.ToRows();
        for (var c = 0; c < k; c++)
        {
            long column = 0, row = 0;
            for (var other = 0; other < k; other++)
            {
                column += rows[other][c];
                row += rows[c][other];
            }

            Assert.Equal(rows[c][c], metrics.PerClass[c].Tp);
            Assert.Equal(column - rows[c][c], metrics.PerClass[c].Fp);
            Assert.Equal(row - rows[c][c], metrics.PerClass[c].Fn);
            Assert.Equal(5000 - column - row + rows[c][c], metrics.PerClass[c].Tn);
        }
    }

    private static void AssertAverage(JsonElement expected, AveragedMetrics actual, string label)
    {
        Approx.Equal(expected.GetProperty("precision").GetDouble(), actual.Precision, $"{label}.precision");
        Approx.Equal(expected.GetProperty("recall").GetDouble(), actual.Recall, $"{label}.recall");
        Approx.Equal(expected.GetProperty("f1").GetDouble(), actual.F1, $"{label}.f1");
    }

    private static string[] Classes(JsonElement testCase)
    {
        var classes = new List<string>();
        foreach (var c in testCase.GetProperty("classes").EnumerateArray())
        {
            classes.Add(c.GetString()!);
        }

        return [.. classes];
    }

    private static ConfusionCounts BuildFromLabels(JsonElement testCase)
    {
        var classes = Classes(testCase);
        var index = new Dictionary<string, int>();
        for (var i = 0; i < classes.Length; i++)
        {
            index[classes[i]] = i;
        }

        var counts = new ConfusionCounts(classes.Length);
        using var actual = testCase.GetProperty("actual").EnumerateArray();
        using var predicted = testCase.GetProperty("predicted").EnumerateArray();
        while (actual.MoveNext())
        {
            Assert.True(predicted.MoveNext());
            counts.Add(index[actual.Current.GetString()!], index[predicted.Current.GetString()!]);
        }

        Assert.False(predicted.MoveNext());
        return counts;
    }
}
