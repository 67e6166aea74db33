namespace ConfusionMatrix.Abstractions;

/// <summary>Why a prediction was refused. The names are stable: they label the rejection counter on /metrics.</summary>
public static class RejectionReasons
{
    public const string UnknownModel = "unknown_model";
    public const string UnknownClass = "unknown_class";
    public const string MissingField = "missing_field";
    public const string BadTimestamp = "bad_timestamp";
    public const string IdTooLong = "id_too_long";
    public const string EmptySegmentValue = "empty_segment_value";
    public const string UnknownSegmentDimension = "unknown_segment_dimension";
    public const string BadName = "bad_name";
    public const string Malformed = "malformed";

    /// <summary>Not a problem of the prediction: the prediction log could not take it. Retryable.</summary>
    public const string Unavailable = "unavailable";

    public static readonly IReadOnlyList<string> All =
    [
        UnknownModel, UnknownClass, MissingField, BadTimestamp, IdTooLong, EmptySegmentValue, UnknownSegmentDimension, BadName, Malformed, Unavailable,
    ];
}
