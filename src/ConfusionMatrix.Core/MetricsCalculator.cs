namespace ConfusionMatrix.Core;

/// <summary>One-vs-rest counts and scores for a single class.</summary>
public sealed record ClassMetrics(long Tp, long Fp, long Fn, long Tn, double Precision, double Recall, double F1, long Support);

/// <summary>Precision, recall and F1 under one averaging scheme.</summary>
public sealed record AveragedMetrics(double Precision, double Recall, double F1);

/// <summary>All summary metrics of a confusion matrix; values match scikit-learn with zero_division=0.</summary>
public sealed record MatrixMetrics(
    long Total,
    double Accuracy,
    double BalancedAccuracy,
    double Mcc,
    double CohenKappa,
    IReadOnlyList<ClassMetrics> PerClass,
    AveragedMetrics Macro,
    AveragedMetrics Micro,
    AveragedMetrics Weighted);

/// <summary>
/// Derives classification metrics from counts alone, using the same formulas as scikit-learn so numbers
/// shown to users agree with offline evaluation notebooks.
/// </summary>
public static class MetricsCalculator
{
    /// <summary>Computes every metric in O(K + non-zero cells). An empty matrix yields all zeros.</summary>
    public static MatrixMetrics Compute(ConfusionCounts counts)
    {
        ArgumentNullException.ThrowIfNull(counts);
        var k = counts.ClassCount;
        var rowTotals = new long[k];
        var columnTotals = new long[k];
        var diagonal = new long[k];
        counts.AccumulateMarginals(rowTotals, columnTotals, diagonal);

        var total = counts.Total;
        var perClass = new ClassMetrics[k];
        long correct = 0;
        double precisionSum = 0, recallSum = 0, f1Sum = 0;
        double weightedPrecision = 0, weightedRecall = 0, weightedF1 = 0;
        double presentRecallSum = 0;
        var presentClasses = 0;

        for (var c = 0; c < k; c++)
        {
            var tp = diagonal[c];
            var fp = columnTotals[c] - tp;
            var fn = rowTotals[c] - tp;
            var tn = total - tp - fp - fn;
            var support = rowTotals[c];
            var precision = SafeDivide(tp, tp + fp);
            var recall = SafeDivide(tp, tp + fn);
            var f1 = HarmonicMean(precision, recall);
            perClass[c] = new ClassMetrics(tp, fp, fn, tn, precision, recall, f1, support);

            correct += tp;
            precisionSum += precision;
            recallSum += recall;
            f1Sum += f1;
            weightedPrecision += precision * support;
            weightedRecall += recall * support;
            weightedF1 += f1 * support;
            if (support > 0)
            {
                presentRecallSum += recall;
                presentClasses++;
            }
        }

        var accuracy = SafeDivide(correct, total);
        var macro = new AveragedMetrics(precisionSum / k, recallSum / k, f1Sum / k);

        // Micro averaging pools all classes: every prediction is one TP or one FP, so P = R = accuracy.
        var microPrecision = SafeDivide(correct, total);
        var micro = new AveragedMetrics(microPrecision, microPrecision, HarmonicMean(microPrecision, microPrecision));
        var weighted = total == 0
            ? new AveragedMetrics(0, 0, 0)
            : new AveragedMetrics(weightedPrecision / total, weightedRecall / total, weightedF1 / total);

        var balancedAccuracy = presentClasses == 0 ? 0 : presentRecallSum / presentClasses;
        return new MatrixMetrics(
            total,
            accuracy,
            balancedAccuracy,
            MatthewsCorrelation(rowTotals, columnTotals, correct, total),
            CohenKappa(rowTotals, columnTotals, correct, total),
            perClass,
            macro,
            micro,
            weighted);
    }

    /// <summary>sklearn's multiclass MCC (Gorodkin's R_K) via covariances; doubles avoid long overflow of n².</summary>
    private static double MatthewsCorrelation(long[] rowTotals, long[] columnTotals, long correct, long total)
    {
        double n = total;
        double truePredictedDot = 0, predictedDot = 0, trueDot = 0;
        for (var c = 0; c < rowTotals.Length; c++)
        {
            double t = rowTotals[c];
            double p = columnTotals[c];
            truePredictedDot += t * p;
            predictedDot += p * p;
            trueDot += t * t;
        }

        var covTruePredicted = (correct * n) - truePredictedDot;
        var covPredicted = (n * n) - predictedDot;
        var covTrue = (n * n) - trueDot;
        var denominator = covTrue * covPredicted;
        return denominator == 0 ? 0 : covTruePredicted / Math.Sqrt(denominator);
    }

    /// <summary>Unweighted Cohen's kappa written as sklearn does: 1 - observed/expected disagreement.
    /// Where sklearn would return NaN (no expected disagreement, e.g. a single class) this returns 0.</summary>
    private static double CohenKappa(long[] rowTotals, long[] columnTotals, long correct, long total)
    {
        if (total == 0)
        {
            return 0;
        }

        double n = total;
        double expectedAgreement = 0;
        for (var c = 0; c < rowTotals.Length; c++)
        {
            expectedAgreement += (double)rowTotals[c] * columnTotals[c] / n;
        }

        var expectedDisagreement = n - expectedAgreement;
        double observedDisagreement = total - correct;
        return expectedDisagreement == 0 ? 0 : 1 - (observedDisagreement / expectedDisagreement);
    }

    private static double SafeDivide(long numerator, long denominator) =>
        denominator == 0 ? 0 : (double)numerator / denominator;

    private static double HarmonicMean(double precision, double recall)
    {
        var denominator = precision + recall;
        return denominator == 0 ? 0 : 2 * precision * recall / denominator;
    }
}
