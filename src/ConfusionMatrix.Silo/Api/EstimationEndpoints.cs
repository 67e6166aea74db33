using System.Globalization;
using ConfusionMatrix.Abstractions;
using ConfusionMatrix.Api.Contracts;
using ConfusionMatrix.Core;
using ConfusionMatrix.Core.Estimation;
using ConfusionMatrix.Grains;

namespace ConfusionMatrix.Silo.Api;

/// <summary>
/// What can be said before the labels are in: the label-free comparison of a canary with stable (predicted classes
/// and scores), and the performance expected from the scores of predictions still waiting for their label. Both sit
/// beside the labelled verdicts and the realised matrix; neither replaces them.
/// </summary>
public static class EstimationEndpoints
{
    private const int ScoreBandWidthInBins = 4;

    public static IEndpointRouteBuilder MapConfusionMatrixEstimation(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1/models/{model}");
        api.MapGet("/early-warning", GetEarlyWarningAsync).RequireAuthorization(Security.Roles.Viewer);
        api.MapGet("/versions/{version}/segments/{segment}/estimate", GetEstimateAsync).RequireAuthorization(Security.Roles.Viewer);
        return app;
    }

    private static async Task<IResult> GetEarlyWarningAsync(
        string model, string? canary, string? stable, string? segment, string? window, IGrainFactory grains, ModelDefinitionCache cache, ApplicationClock clock)
    {
        if (string.IsNullOrWhiteSpace(canary) || string.IsNullOrWhiteSpace(stable) || canary == stable)
        {
            return ApiEndpoints.Problem(400, "Invalid comparison", "Name two different versions: ?canary=<version>&stable=<version>.");
        }

        if (!WindowSpec.TryParse(window ?? "all", out var span, out var error))
        {
            return ApiEndpoints.Problem(400, "Invalid window", error!);
        }

        var definition = await cache.GetAsync(model);
        if (definition is null)
        {
            return ApiEndpoints.UnknownModel(model);
        }

        segment ??= Segments.All;
        if (ApiEndpoints.InvalidSegment(segment, out _) is { } invalid)
        {
            return invalid;
        }

        var k = definition.Classes.Length;
        var canaryView = await grains.GetGrain<ISegmentMatrixGrain>(Segments.MatrixKey(model, canary, segment)).GetMatrixAsync(span);
        var stableView = await grains.GetGrain<ISegmentMatrixGrain>(Segments.MatrixKey(model, stable, segment)).GetMatrixAsync(span);
        var predicted = CategoricalShift.Compare(PredictedDistribution(canaryView, definition), PredictedDistribution(stableView, definition));

        // Scores are known for the predictions logged without their label (they wait in the label join until it comes).
        var now = clock.GetUtcNow();
        var (from, to) = span is { } w ? (now - w, now.AddDays(1)) : (DateTimeOffset.MinValue, DateTimeOffset.MaxValue);
        var router = grains.GetGrain<ILabelRouterGrain>(model);
        var canaryScores = await router.GetScoreSummaryAsync(new ScoreSummaryQuery(canary, segment, from.UtcTicks, to.UtcTicks, 0, k, ScoreBins.Count));
        var stableScores = await router.GetScoreSummaryAsync(new ScoreSummaryQuery(stable, segment, from.UtcTicks, to.UtcTicks, 0, k, ScoreBins.Count));
        // Five score bands of 0.2: each band holds a real share of traffic, so a move is seen with a few hundred
        // predictions; the twenty calibration bins would split the same α twenty ways over slivers.
        var scores = CategoricalShift.Compare(canaryScores.ScoredByBin(ScoreBandWidthInBins), stableScores.ScoredByBin(ScoreBandWidthInBins));
        var bands = ScoreBins.Count / ScoreBandWidthInBins;
        var binNames = Enumerable.Range(0, bands)
            .Select(b => string.Create(CultureInfo.InvariantCulture, $"[{(double)b / bands:0.0},{(double)(b + 1) / bands:0.0}{(b == bands - 1 ? "]" : ")")}"))
            .ToArray();
        return Results.Ok(new EarlyWarningResponse(
            model,
            canary,
            stable,
            segment,
            WindowSpec.Format(span),
            span is null,
            HttpMapping.ToResponse(predicted, definition.Classes),
            HttpMapping.ToResponse(scores, binNames)));
    }

    private static async Task<IResult> GetEstimateAsync(
        string model, string version, string segment, string? window, string? calibration, string? maturity, IGrainFactory grains, ModelDefinitionCache cache, ApplicationClock clock)
    {
        if (ApiEndpoints.InvalidSegment(segment, out _) is { } invalid)
        {
            return invalid;
        }

        if (!WindowSpec.TryParse(window ?? "all", out var span, out var error))
        {
            return ApiEndpoints.Problem(400, "Invalid window", error!);
        }

        ScoreCalibration mode;
        switch ((calibration ?? "scores").ToLowerInvariant())
        {
            case "scores": mode = ScoreCalibration.Scores; break;
            case "labelled": mode = ScoreCalibration.Labelled; break;
            default: return ApiEndpoints.Problem(400, "Invalid calibration", "'calibration' is 'scores' (the model's scores are calibrated probabilities) or 'labelled' (calibrate them on labelled predictions).");
        }

        var matured = TimeSpan.Zero;
        if (maturity is not null && !TimeSpan.TryParse(maturity, CultureInfo.InvariantCulture, out matured) && !TryDays(maturity, out matured) || matured < TimeSpan.Zero)
        {
            return ApiEndpoints.Problem(400, "Invalid maturity", "'maturity' is the age a cohort needs before its labels calibrate the scores: a TimeSpan such as 7.00:00:00, or days such as 7d.");
        }

        var definition = await cache.GetAsync(model);
        if (definition is null)
        {
            return ApiEndpoints.UnknownModel(model);
        }

        if (definition.Classes.Length != 2 || definition.PositiveClass is null)
        {
            return ApiEndpoints.Problem(422, "Estimation needs a binary model", $"Model '{model}' has {definition.Classes.Length} classes{(definition.PositiveClass is null ? " and no positive class" : "")}; confidence-based estimation reads a score as the probability of the positive class of a two-class model.");
        }

        var k = 2;
        var positive = definition.ClassIndex(definition.PositiveClass);
        var now = clock.GetUtcNow();
        var segmentGrain = grains.GetGrain<ISegmentMatrixGrain>(Segments.MatrixKey(model, version, segment));

        // The realised matrix and the waiting predictions must cover the same event times: a rolling window is asked as
        // an event-time range, and the range the segment answered (aligned to its buckets) is the one the shards use.
        MatrixView view;
        long fromTicks, toTicks;
        if (span is { } w)
        {
            view = await segmentGrain.GetEventTimeRangeAsync(now - w, now.AddDays(1));
            var edges = view.Window.Split('/');
            fromTicks = DateTimeOffset.Parse(edges[0], CultureInfo.InvariantCulture).UtcTicks;
            toTicks = DateTimeOffset.Parse(edges[1], CultureInfo.InvariantCulture).UtcTicks;
        }
        else
        {
            view = await segmentGrain.GetMatrixAsync(null);
            (fromTicks, toTicks) = (DateTimeOffset.MinValue.UtcTicks, DateTimeOffset.MaxValue.UtcTicks);
        }

        var realised = WireMapping.ToCounts(view, k);
        var summary = await grains.GetGrain<ILabelRouterGrain>(model)
            .GetScoreSummaryAsync(new ScoreSummaryQuery(version, segment, fromTicks, toTicks, (now - matured).UtcTicks, k, ScoreBins.Count));

        // Scored predictions are estimated from their scores even once labelled (labels arrive by outcome, so the
        // labelled part is not a fair sample); what stays as counted is the rest of the realised matrix: predictions
        // logged with their label, and labelled ones without a score.
        var rows = realised.ToRows();
        for (var actual = 0; actual < k; actual++)
        {
            for (var predicted = 0; predicted < k; predicted++)
            {
                rows[actual][predicted] -= Math.Min(summary.ScoredLabelledCells[(actual * k) + predicted], rows[actual][predicted]);
            }
        }

        var known = ConfusionCounts.FromRows(rows);
        var estimate = ConfidenceBasedEstimator.Estimate(known, positive, ToEvidence(summary, positive), mode);
        var realisedMetrics = MetricsCalculator.Compute(realised);
        var positiveMetrics = realisedMetrics.PerClass[positive];
        return Results.Ok(new EstimateResponse(
            model,
            version,
            segment,
            WindowSpec.Format(span),
            true,
            mode.ToString().ToLowerInvariant(),
            mode == ScoreCalibration.Labelled ? matured : null,
            definition.PositiveClass,
            new RealisedResponse(realised.Total, Finite(positiveMetrics.Recall, realised.RowTotal(positive)), Finite(positiveMetrics.Precision, realised.ColumnTotal(positive))),
            new EstimatedResponse(
                estimate.Known + estimate.Estimated,
                estimate.Known,
                estimate.Estimated,
                estimate.WaitingUnscored,
                new ExpectedCellsResponse(estimate.ExpectedTruePositive, estimate.ExpectedFalsePositive, estimate.ExpectedFalseNegative, estimate.ExpectedTrueNegative),
                estimate.Recall,
                estimate.Precision,
                estimate.Accuracy,
                estimate.FalsePositiveRate),
            estimate.CalibratedPositiveRate,
            summary.CalibrationByActualBin.Sum()));
    }

    private static double? Finite(double value, long denominator) => denominator > 0 ? value : null;

    private static bool TryDays(string text, out TimeSpan value)
    {
        value = default;
        return text.EndsWith('d') && int.TryParse(text.AsSpan(0, text.Length - 1), NumberStyles.None, CultureInfo.InvariantCulture, out var days)
            && days <= 3650 && (value = TimeSpan.FromDays(days)) >= TimeSpan.Zero;
    }

    /// <summary>Every prediction of the window by predicted class (labelled, waiting and expired), in class order.</summary>
    private static long[] PredictedDistribution(MatrixView view, ModelDefinition definition)
    {
        var (distribution, _) = ApiEndpoints.LabelCoverage(WireMapping.ToCounts(view, definition.Classes.Length), view, definition);
        return [.. definition.Classes.Select(c => distribution[c])];
    }

    private static ScoreEvidence ToEvidence(ScoreSummary s, int positive)
    {
        var negative = 1 - positive;
        var b = s.Bins;
        var evidence = ScoreEvidence.Empty();
        for (var i = 0; i < b; i++)
        {
            evidence.ScoredPredictedPositive[i] = s.ScoredByPredictedBin[(positive * b) + i];
            evidence.ScoredPredictedPositiveScoreSum[i] = s.ScoreSumByPredictedBin[(positive * b) + i];
            evidence.ScoredPredictedNegative[i] = s.ScoredByPredictedBin[(negative * b) + i];
            evidence.ScoredPredictedNegativeScoreSum[i] = s.ScoreSumByPredictedBin[(negative * b) + i];
            evidence.CalibrationPositive[i] = s.CalibrationByActualBin[(positive * b) + i];
            evidence.Calibration[i] = s.CalibrationByActualBin[(positive * b) + i] + s.CalibrationByActualBin[(negative * b) + i];
            evidence.CalibrationScoreSum[i] = s.CalibrationScoreSumByBin[i];
        }

        return evidence with { WaitingUnscored = s.WaitingUnscoredByPredicted.Sum() };
    }
}
