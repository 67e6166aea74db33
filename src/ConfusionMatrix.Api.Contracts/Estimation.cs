using ConfusionMatrix.Core.Estimation;

namespace ConfusionMatrix.Api.Contracts;

public sealed record CategoryShiftResponse(string Category, double CanaryShare, double StableShare, double Difference, double Lower, double Upper, double PValue, bool Shifted);

/// <summary>A label-free comparison; <c>sufficient</c> is false until each arm has the minimum count (then nothing is flagged).</summary>
public sealed record ShiftResponse(long CanaryTotal, long StableTotal, bool Sufficient, bool Shifted, double PValue, double Alpha, IReadOnlyList<CategoryShiftResponse> Categories);

/// <summary>
/// <c>alwaysValid</c> is true for window "all" (both arms accumulate, so the p-values hold however often one looks); a
/// rolling window drops old predictions and its answer is a single look.
/// </summary>
public sealed record EarlyWarningResponse(string Model, string Canary, string Stable, string Segment, string Window, bool AlwaysValid, ShiftResponse PredictedClasses, ShiftResponse Scores);

public sealed record RealisedResponse(long Labelled, double? Recall, double? Precision);

public sealed record ExpectedCellsResponse(double TruePositive, double FalsePositive, double FalseNegative, double TrueNegative);

/// <summary>
/// <c>predictions</c> = <c>counted</c> (outcomes as logged: predictions sent with their label, labelled ones without a
/// score) + <c>estimatedFromScores</c> (every scored prediction logged without its label, labelled since or not);
/// <c>waitingWithoutScore</c> are left out.
/// </summary>
public sealed record EstimatedResponse(
    long Predictions,
    long Counted,
    long EstimatedFromScores,
    long WaitingWithoutScore,
    ExpectedCellsResponse Expected,
    EstimatedValue Recall,
    EstimatedValue Precision,
    EstimatedValue Accuracy,
    EstimatedValue FalsePositiveRate);

/// <summary>
/// The realised matrix (labelled predictions) and the expected one of every prediction in the window, the waiting ones
/// estimated from their scores. <c>estimate</c> is always true: these are expectations, not counts.
/// </summary>
public sealed record EstimateResponse(
    string Model,
    string Version,
    string Segment,
    string Window,
    bool Estimate,
    string Calibration,
    TimeSpan? CalibrationMaturity,
    string PositiveClass,
    RealisedResponse Realised,
    EstimatedResponse Estimated,
    IReadOnlyList<double> CalibratedPositiveRateByBin,
    long CalibrationLabels);
