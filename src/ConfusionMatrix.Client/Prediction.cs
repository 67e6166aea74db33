using ConfusionMatrix.Abstractions;

namespace ConfusionMatrix.Client;

/// <summary>
/// One scored request, in the shape of the silo's HTTP prediction format
/// (<c>predictionId, model, version, predicted, actual, score, timestamp, segments</c>). Leave <see cref="Actual"/>
/// null when the ground truth is not known yet: the prediction then waits in the silo until a <see cref="Label"/> with
/// the same id arrives (see <see cref="LabelSender"/>). Do not mutate <see cref="Segments"/> after handing the
/// prediction to a logger.
/// </summary>
public sealed record Prediction(string PredictionId, string Model, string Version, string Predicted, string? Actual = null)
{
    /// <summary>The model's score (its confidence in <see cref="Predicted"/>); used to estimate performance while labels are missing.</summary>
    public double? Score { get; init; }

    /// <summary>Event time. When null, the logger stamps the time the prediction was logged.</summary>
    public DateTimeOffset? Timestamp { get; init; }

    /// <summary>Segment dimensions to values, e.g. <c>region=EU</c>. Dimensions the model did not register are ignored by the silo.</summary>
    public IReadOnlyDictionary<string, string>? Segments { get; init; }

    /// <summary>The stream and version-router key <c>{model}/{version}</c>.</summary>
    public string StreamKey => PredictionLog.VersionKey(Model, Version);
}

/// <summary>
/// The checks a client can make without the model registry. Reasons are the silo's <see cref="RejectionReasons"/> names,
/// so client-side and silo-side rejection counters line up.
/// </summary>
public static class PredictionValidator
{
    /// <summary>Returns the rejection reason, or null when the prediction may be sent.</summary>
    public static string? Validate(Prediction? prediction, DateTimeOffset now)
    {
        if (prediction is null)
        {
            return RejectionReasons.MissingField;
        }

        var problem = PredictionRules.CheckId(prediction.PredictionId)
            ?? PredictionRules.CheckFields(prediction.Model, prediction.Version, prediction.Predicted)
            ?? (prediction.Timestamp is { } ts ? PredictionRules.CheckTimestamp(ts, now) : null)
            ?? PredictionRules.CheckScore(prediction.Score);
        if (problem is null && prediction.Segments is { } segments)
        {
            foreach (var (dimension, value) in segments)
            {
                if (PredictionRules.CheckSegment(dimension, value) is { } bad)
                {
                    problem = bad;
                    break;
                }
            }
        }

        return problem?.Reason;
    }
}
