using ConfusionMatrix.Core.Estimation;

namespace ConfusionMatrix.Core.Tests.Estimation;

/// <summary>
/// Simulated fraud scoring where the truth is known: positives are rare, the model flags scores of 0.3 and more, and
/// labels arrive the way chargebacks do (flagged fraud is confirmed at once, missed fraud last), so the realised matrix
/// overstates recall; the estimate from the scores recovers it.
/// </summary>
public sealed class ConfidenceBasedEstimatorTests(Xunit.Abstractions.ITestOutputHelper log)
{
    private const int Fraud = 1;

    [Fact]
    public void CalibratedScores_IntervalCoversTheTrueRecall_ThatEarlyLabelsOverstate()
    {
        var covered = 0;
        var errors = new List<double>();
        for (var seed = 0; seed < 20; seed++)
        {
            var world = Simulate(new Random(seed), 20_000, calibration: s => s);
            var estimate = ConfidenceBasedEstimator.Estimate(new ConfusionCounts(2), Fraud, world.Evidence, ScoreCalibration.Scores);

            Assert.True(world.RealisedRecall > world.TrueRecall + 0.1, $"seed {seed}: realised recall {world.RealisedRecall:0.000} should overstate the true {world.TrueRecall:0.000}");
            covered += estimate.Recall.Lower <= world.TrueRecall && world.TrueRecall <= estimate.Recall.Upper ? 1 : 0;
            errors.Add(Math.Abs(estimate.Recall.Estimate!.Value - world.TrueRecall));
            Assert.Equal(0, estimate.Known);
            Assert.Equal(world.Scored, estimate.Estimated);
        }

        log.WriteLine($"calibrated: interval covered the true recall in {covered} of 20 runs, mean error {errors.Average():0.0000}");
        Assert.True(covered >= 17, $"the 90% interval covered the true recall in {covered} of 20 runs");
        Assert.True(errors.Average() < 0.03, $"mean recall error {errors.Average():0.000}");
    }

    [Fact]
    public void OverconfidentScores_AreCorrectedByLabelledCalibration_NotByTheScoresAlone()
    {
        // The model's score s overstates the chance of fraud: the truth is s squared. Matured labels of as many
        // older predictions calibrate it (few land in the high-score bins, so a bin's rate is itself noisy).
        var errors = new List<double>();
        for (var seed = 0; seed < 5; seed++)
        {
            var world = Simulate(new Random(100 + seed), 40_000, calibration: s => s * s, calibrationSample: 1.0);
            var fromScores = ConfidenceBasedEstimator.Estimate(new ConfusionCounts(2), Fraud, world.Evidence, ScoreCalibration.Scores);
            var fromLabels = ConfidenceBasedEstimator.Estimate(new ConfusionCounts(2), Fraud, world.Evidence, ScoreCalibration.Labelled);

            var error = fromLabels.Precision.Estimate!.Value - world.TruePrecision;
            Assert.True(Math.Abs(error) < 0.04, $"seed {seed}: calibrated precision {fromLabels.Precision.Estimate:0.000} vs true {world.TruePrecision:0.000}");
            Assert.True(fromScores.Precision.Estimate!.Value - world.TruePrecision > 0.15, $"seed {seed}: uncalibrated precision {fromScores.Precision.Estimate:0.000} should overstate the true {world.TruePrecision:0.000}");
            errors.Add(Math.Abs(error));
        }

        log.WriteLine($"overconfident: mean calibrated precision error {errors.Average():0.0000}, worst {errors.Max():0.0000}");
        Assert.True(errors.Average() < 0.02, $"mean calibrated precision error {errors.Average():0.000}");
    }

    [Fact]
    public void ExpectedCells_AreTheKnownCountsPlusTheScoresSummed()
    {
        var known = ConfusionCounts.FromRows([[50, 5], [2, 10]]); // rows actual legit, fraud; columns predicted
        var evidence = ScoreEvidence.Empty();
        Add(evidence, predictedFraud: true, 0.9);
        Add(evidence, predictedFraud: true, 0.7);
        Add(evidence, predictedFraud: false, 0.2);

        var e = ConfidenceBasedEstimator.Estimate(known, Fraud, evidence, ScoreCalibration.Scores);

        Assert.Equal(10 + 1.6, e.ExpectedTruePositive, 9);
        Assert.Equal(5 + 0.4, e.ExpectedFalsePositive, 9);
        Assert.Equal(2 + 0.2, e.ExpectedFalseNegative, 9);
        Assert.Equal(50 + 0.8, e.ExpectedTrueNegative, 9);
        Assert.Equal(11.6 / (11.6 + 2.2), e.Recall.Estimate!.Value, 9);
        Assert.Equal(3, e.Estimated);
        Assert.True(e.Recall.Lower <= e.Recall.Estimate && e.Recall.Estimate <= e.Recall.Upper);
    }

    [Fact]
    public void OnlyBinaryModels_AreEstimated()
    {
        Assert.Throws<ArgumentException>(() => ConfidenceBasedEstimator.Estimate(new ConfusionCounts(3), 1, ScoreEvidence.Empty(), ScoreCalibration.Scores));
        Assert.Throws<ArgumentOutOfRangeException>(() => ConfidenceBasedEstimator.Estimate(new ConfusionCounts(2), 2, ScoreEvidence.Empty(), ScoreCalibration.Scores));
        var nothing = ConfidenceBasedEstimator.Estimate(new ConfusionCounts(2), 1, ScoreEvidence.Empty(), ScoreCalibration.Scores);
        Assert.Null(nothing.Recall.Estimate);
    }

    private static void Add(ScoreEvidence e, bool predictedFraud, double score)
    {
        var bin = ScoreBins.Of(score);
        if (predictedFraud)
        {
            e.ScoredPredictedPositive[bin]++;
            e.ScoredPredictedPositiveScoreSum[bin] += score;
        }
        else
        {
            e.ScoredPredictedNegative[bin]++;
            e.ScoredPredictedNegativeScoreSum[bin] += score;
        }
    }

    private sealed record World(ConfusionCounts Realised, ScoreEvidence Evidence, long Scored, double TrueRecall, double TruePrecision, double RealisedRecall);

    /// <summary>
    /// Scores from a Beta(0.6, 6) (about 9% fraud when calibrated); flagged at 0.3. Flagged fraud is labelled at once
    /// and missed fraud not yet; legitimate predictions are labelled half the time. A separate matured sample
    /// (a random <paramref name="calibrationSample"/> of older predictions, every label in) calibrates the scores.
    /// </summary>
    private static World Simulate(Random random, int n, Func<double, double> calibration, double calibrationSample = 0.2)
    {
        var realised = new ConfusionCounts(2);
        var evidence = ScoreEvidence.Empty();
        long tp = 0, fn = 0, fp = 0;
        for (var i = 0; i < n; i++)
        {
            var s = Beta(random, 0.6, 6);
            var fraud = random.NextDouble() < calibration(s);
            var flagged = s >= 0.3;
            tp += fraud && flagged ? 1 : 0;
            fn += fraud && !flagged ? 1 : 0;
            fp += !fraud && flagged ? 1 : 0;
            if (fraud ? flagged : random.NextDouble() < 0.5)
            {
                realised.Add(fraud ? 1 : 0, flagged ? 1 : 0);
            }

            // Every prediction was logged with its score and without its label: all are estimated from the score.
            Add(evidence, flagged, s);
        }

        for (var i = 0; i < n * calibrationSample; i++)
        {
            var s = Beta(random, 0.6, 6);
            var bin = ScoreBins.Of(s);
            evidence.Calibration[bin]++;
            evidence.CalibrationScoreSum[bin] += s;
            evidence.CalibrationPositive[bin] += random.NextDouble() < calibration(s) ? 1 : 0;
        }

        var realisedRecall = (double)realised[1, 1] / realised.RowTotal(1);
        return new World(realised, evidence, n, (double)tp / (tp + fn), (double)tp / (tp + fp), realisedRecall);
    }

    private static double Beta(Random random, double a, double b)
    {
        var x = Gamma(random, a);
        var y = Gamma(random, b);
        return x / (x + y);
    }

    /// <summary>Marsaglia and Tsang, with the a &lt; 1 boost.</summary>
    private static double Gamma(Random random, double shape)
    {
        if (shape < 1)
        {
            return Gamma(random, shape + 1) * Math.Pow(random.NextDouble(), 1 / shape);
        }

        var d = shape - (1.0 / 3);
        var c = 1 / Math.Sqrt(9 * d);
        while (true)
        {
            double x, v;
            do
            {
                var u1 = 1.0 - random.NextDouble();
                var u2 = random.NextDouble();
                x = Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
                v = 1 + (c * x);
            }
            while (v <= 0);

            v = v * v * v;
            var u = random.NextDouble();
            if (u < 1 - (0.0331 * x * x * x * x) || Math.Log(u) < (0.5 * x * x) + (d * (1 - v + Math.Log(v))))
            {
                return d * v;
            }
        }
    }
}
