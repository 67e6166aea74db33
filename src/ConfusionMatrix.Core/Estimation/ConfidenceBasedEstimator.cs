namespace ConfusionMatrix.Core.Estimation;

/// <summary>How the probability that an unlabelled prediction is positive is taken from its score.</summary>
public enum ScoreCalibration
{
    /// <summary>The score is used as it is: right when the model is calibrated.</summary>
    Scores,

    /// <summary>
    /// Per score bin, the positive rate among labelled predictions of the same version and segment, shrunk towards the
    /// bin's mean score with the weight of <see cref="ConfidenceBasedEstimateOptions.PriorStrength"/> predictions, so a
    /// bin with few labels falls back to the score.
    /// </summary>
    Labelled,
}

/// <summary>
/// Inputs in score bins (<see cref="ScoreBins"/>), for one version, segment and event-time window of a binary model:
/// the scored predictions whose outcome is taken from the score (labelled or not), the waiting predictions without a
/// score, and the labelled predictions used for calibration.
/// </summary>
public sealed record ScoreEvidence(
    long[] ScoredPredictedPositive,
    double[] ScoredPredictedPositiveScoreSum,
    long[] ScoredPredictedNegative,
    double[] ScoredPredictedNegativeScoreSum,
    long WaitingUnscored,
    long[] Calibration,
    long[] CalibrationPositive,
    double[] CalibrationScoreSum)
{
    public static ScoreEvidence Empty() => new(
        new long[ScoreBins.Count], new double[ScoreBins.Count], new long[ScoreBins.Count], new double[ScoreBins.Count], 0,
        new long[ScoreBins.Count], new long[ScoreBins.Count], new double[ScoreBins.Count]);
}

/// <summary>An estimated quantity with its central 90% interval from the scores' own randomness.</summary>
public sealed record EstimatedValue(double? Estimate, double? Lower, double? Upper);

public sealed record ConfidenceBasedEstimate(
    ScoreCalibration Calibration,
    long Known,
    long Estimated,
    long WaitingUnscored,
    double ExpectedTruePositive,
    double ExpectedFalsePositive,
    double ExpectedFalseNegative,
    double ExpectedTrueNegative,
    EstimatedValue Recall,
    EstimatedValue Precision,
    EstimatedValue Accuracy,
    EstimatedValue FalsePositiveRate,
    IReadOnlyList<double> CalibratedPositiveRate);

public sealed record ConfidenceBasedEstimateOptions
{
    public static readonly ConfidenceBasedEstimateOptions Default = new();

    /// <summary>
    /// Weight, in predictions, of a bin's mean score against its labelled positive rate. Default 2: a bin without labels
    /// uses the score, one with 20 labels gives the score under a tenth of the weight, so a miscalibrated model is
    /// corrected as soon as a bin has a few dozen matured labels.
    /// </summary>
    public double PriorStrength { get; init; } = 2;

    /// <summary>Draws behind the interval. Default 2000: the 5th and 95th percentiles then move by well under 0.005.</summary>
    public int Draws { get; init; } = 2000;

    /// <summary>Fixed so the same data gives the same interval on every look.</summary>
    public int Seed { get; init; } = 20261201;
}

/// <summary>
/// Confidence-based performance estimation (the CBPE idea): while labels are missing, the expected confusion matrix
/// follows from the scores. A prediction with calibrated probability p of being positive adds p to TP and 1 − p to FP
/// when predicted positive, p to FN and 1 − p to TN when predicted negative.
/// <para>
/// Every scored prediction of the window is estimated from its score, labelled or not. Combining the labels that have
/// arrived with estimates for the rest would be biased exactly when it matters: labels arrive by outcome (flagged fraud
/// is confirmed within hours, missed fraud with the chargeback weeks later), so the labelled part is not a random
/// sample and the waiting part holds the missed positives. Estimating the whole window from calibrated scores needs
/// only calibration (P(positive | score) = p for these predictions), not labels missing at random. Outcomes taken as
/// they are (<c>known</c>) are the predictions logged with their label, which never waited for one.
/// </para>
/// <para>
/// Calibration is the assumption: <see cref="ScoreCalibration.Scores"/> trusts the model's scores;
/// <see cref="ScoreCalibration.Labelled"/> measures it on labelled predictions of cohorts old enough for their labels to
/// have arrived (outcome-dependent delay would bias a young sample), and assumes it holds for the window.
/// </para>
/// <para>
/// The interval is that of the estimated predictions' own outcomes (each a Bernoulli(p) draw around the expectation,
/// by a normal approximation) on top of the known counts; it does not include calibration error.
/// </para>
/// </summary>
public static class ConfidenceBasedEstimator
{
    public static ConfidenceBasedEstimate Estimate(ConfusionCounts known, int positiveClass, ScoreEvidence evidence, ScoreCalibration calibration, ConfidenceBasedEstimateOptions? options = null)
    {
        options ??= ConfidenceBasedEstimateOptions.Default;
        if (known.ClassCount != 2)
        {
            throw new ArgumentException($"Confidence-based estimation needs a binary model (got {known.ClassCount} classes).", nameof(known));
        }

        if (positiveClass is not (0 or 1))
        {
            throw new ArgumentOutOfRangeException(nameof(positiveClass), positiveClass, "The positive class must be 0 or 1.");
        }

        var negativeClass = 1 - positiveClass;
        double tp = known[positiveClass, positiveClass];
        double fp = known[negativeClass, positiveClass];
        double fn = known[positiveClass, negativeClass];
        double tn = known[negativeClass, negativeClass];

        var rate = new double[ScoreBins.Count];
        for (var b = 0; b < ScoreBins.Count; b++)
        {
            rate[b] = CalibratedRate(evidence, b, calibration, options.PriorStrength);
        }

        // Expected cells and, per predicted class, the variance of the estimated outcomes around them.
        double eTp = 0, eFp = 0, eFn = 0, eTn = 0, vPos = 0, vNeg = 0;
        long estimated = 0;
        for (var b = 0; b < ScoreBins.Count; b++)
        {
            var pos = evidence.ScoredPredictedPositive[b];
            var neg = evidence.ScoredPredictedNegative[b];
            estimated += pos + neg;
            var pPos = Probability(evidence.ScoredPredictedPositiveScoreSum[b], pos, rate[b], calibration);
            var pNeg = Probability(evidence.ScoredPredictedNegativeScoreSum[b], neg, rate[b], calibration);
            eTp += pos * pPos;
            eFp += pos * (1 - pPos);
            eFn += neg * pNeg;
            eTn += neg * (1 - pNeg);
            vPos += pos * pPos * (1 - pPos);
            vNeg += neg * pNeg * (1 - pNeg);
        }

        var posPredicted = eTp + eFp;
        var negPredicted = eFn + eTn;
        var random = new Random(options.Seed);
        var draws = Math.Max(100, options.Draws);
        var recall = new double[draws];
        var precision = new double[draws];
        var accuracy = new double[draws];
        var fpr = new double[draws];
        for (var d = 0; d < draws; d++)
        {
            // Predicted-positive estimated outcomes split into TP/FP, predicted-negative into FN/TN; each split is a sum of
            // independent Bernoullis, drawn from its normal approximation and kept inside its range.
            var dTp = Math.Clamp(eTp + (Normal(random) * Math.Sqrt(vPos)), 0, posPredicted);
            var dFn = Math.Clamp(eFn + (Normal(random) * Math.Sqrt(vNeg)), 0, negPredicted);
            var cTp = tp + dTp;
            var cFp = fp + (posPredicted - dTp);
            var cFn = fn + dFn;
            var cTn = tn + (negPredicted - dFn);
            recall[d] = Ratio(cTp, cTp + cFn);
            precision[d] = Ratio(cTp, cTp + cFp);
            accuracy[d] = Ratio(cTp + cTn, cTp + cFp + cFn + cTn);
            fpr[d] = Ratio(cFp, cFp + cTn);
        }

        double aTp = tp + eTp, aFp = fp + eFp, aFn = fn + eFn, aTn = tn + eTn;
        return new ConfidenceBasedEstimate(
            calibration,
            known.Total,
            estimated,
            evidence.WaitingUnscored,
            aTp,
            aFp,
            aFn,
            aTn,
            Interval(Ratio(aTp, aTp + aFn), recall),
            Interval(Ratio(aTp, aTp + aFp), precision),
            Interval(Ratio(aTp + aTn, aTp + aFp + aFn + aTn), accuracy),
            Interval(Ratio(aFp, aFp + aTn), fpr),
            rate);
    }

    private static double CalibratedRate(ScoreEvidence e, int bin, ScoreCalibration calibration, double priorStrength)
    {
        var binMid = ScoreBins.LowerEdge(bin) + (0.5 / ScoreBins.Count);
        if (calibration == ScoreCalibration.Scores)
        {
            return binMid;
        }

        var n = e.Calibration[bin];
        var meanScore = n > 0 ? e.CalibrationScoreSum[bin] / n : binMid;
        return (e.CalibrationPositive[bin] + (priorStrength * meanScore)) / (n + priorStrength);
    }

    /// <summary>With the scores as they are, a bin's exact mean score; with labels, the bin's calibrated rate.</summary>
    private static double Probability(double scoreSum, long count, double calibratedRate, ScoreCalibration calibration) =>
        count == 0 ? 0 : calibration == ScoreCalibration.Scores ? Math.Clamp(scoreSum / count, 0, 1) : calibratedRate;

    private static double Ratio(double numerator, double denominator) => denominator > 0 ? numerator / denominator : double.NaN;

    private static EstimatedValue Interval(double estimate, double[] draws)
    {
        if (double.IsNaN(estimate))
        {
            return new EstimatedValue(null, null, null);
        }

        var finite = draws.Where(double.IsFinite).Order().ToArray();
        if (finite.Length == 0)
        {
            return new EstimatedValue(estimate, null, null);
        }

        return new EstimatedValue(estimate, finite[(int)(0.05 * (finite.Length - 1))], finite[(int)Math.Ceiling(0.95 * (finite.Length - 1))]);
    }

    private static double Normal(Random random)
    {
        // Box–Muller; one value per call is plenty at this size.
        var u1 = 1.0 - random.NextDouble();
        var u2 = random.NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }
}
