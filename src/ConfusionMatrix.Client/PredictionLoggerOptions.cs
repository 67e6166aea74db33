using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace ConfusionMatrix.Client;

/// <summary>Settings of a <see cref="PredictionLogger"/>; bind from the <c>ConfusionMatrix:PredictionLogger</c> section.</summary>
public sealed class PredictionLoggerOptions : IValidatableObject
{
    public const string SectionName = "ConfusionMatrix:PredictionLogger";

    /// <summary>Names this service in the generated producer id.</summary>
    [Required(AllowEmptyStrings = false, ErrorMessage = "ServiceName must be 1..64 non-blank characters.")]
    [MaxLength(64, ErrorMessage = "ServiceName must be 1..64 non-blank characters.")]
    public string ServiceName { get; set; } = "inference";

    /// <summary>
    /// Fixed producer id. Leave null (recommended): each logger instance then gets <c>{service}-{machine}-{guid}</c>.
    /// Two live loggers must never share one, or the silo would discard one's batches as replays of the other's.
    /// </summary>
    [MaxLength(200, ErrorMessage = "ProducerId must be null or 1..200 non-blank characters.")]
    public string? ProducerId { get; set; }

    /// <summary>A batch is cut when it holds this many predictions.</summary>
    [Range(1, 100_000, ErrorMessage = "BatchSize must be between {1} and {2}.")]
    public int BatchSize { get; set; } = 1000;

    /// <summary>A batch is cut this long after its first prediction was logged, however full it is.</summary>
    [Range(typeof(TimeSpan), "00:00:00.0000001", "00:05:00", ErrorMessage = "BatchInterval must be positive and at most 5 minutes.")]
    public TimeSpan BatchInterval { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>Predictions held (queued, in flight or awaiting retry) before <c>LogAsync</c> waits and <c>TryLog</c> drops.</summary>
    [Range(1, int.MaxValue, ErrorMessage = "MaxBufferedPredictions must be positive.")]
    public int MaxBufferedPredictions { get; set; } = 1_000_000;

    /// <summary>First retry delay ceiling; each further attempt doubles it, up to <see cref="RetryMaxDelay"/> (full jitter).</summary>
    [Range(typeof(TimeSpan), "00:00:00.0000001", "1.00:00:00", ErrorMessage = "RetryBaseDelay must be positive.")]
    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromMilliseconds(100);

    [Range(typeof(TimeSpan), "00:00:00", "01:00:00", ErrorMessage = "RetryMaxDelay must be at most 1 hour.")]
    public TimeSpan RetryMaxDelay { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long disposal waits for buffered predictions to be sent; what is left then is dropped and counted.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "10675199.02:48:05.4775807", ErrorMessage = "DrainTimeout must not be negative.")]
    public TimeSpan DrainTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>The checks that relate two settings, or that attributes cannot say.</summary>
    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (ServiceName is { } service && string.IsNullOrWhiteSpace(service))
        {
            yield return new ValidationResult("ServiceName must be 1..64 non-blank characters.", [nameof(ServiceName)]);
        }

        if (ProducerId is { } id && string.IsNullOrWhiteSpace(id))
        {
            yield return new ValidationResult("ProducerId must be null or 1..200 non-blank characters.", [nameof(ProducerId)]);
        }

        if (MaxBufferedPredictions >= 1 && BatchSize > MaxBufferedPredictions)
        {
            yield return new ValidationResult($"MaxBufferedPredictions ({MaxBufferedPredictions}) must be at least BatchSize ({BatchSize}).", [nameof(MaxBufferedPredictions)]);
        }

        if (RetryMaxDelay < RetryBaseDelay)
        {
            yield return new ValidationResult($"RetryMaxDelay must be at least RetryBaseDelay (got {RetryMaxDelay}).", [nameof(RetryMaxDelay)]);
        }
    }
}

/// <summary>
/// Fails fast, naming the option, so a bad setting stops the host at start rather than losing predictions later.
/// Generated from the data annotations of <see cref="PredictionLoggerOptions"/>.
/// </summary>
[OptionsValidator]
public sealed partial class PredictionLoggerOptionsValidator : IValidateOptions<PredictionLoggerOptions>
{
    /// <summary>Throws <see cref="OptionsValidationException"/> naming every bad option.</summary>
    public static void ThrowIfInvalid(PredictionLoggerOptions options)
    {
        var result = new PredictionLoggerOptionsValidator().Validate(null, options);
        if (result.Failed)
        {
            throw new OptionsValidationException(Options.DefaultName, typeof(PredictionLoggerOptions), result.Failures);
        }
    }
}
