using Microsoft.Extensions.Options;

namespace ConfusionMatrix.Client;

/// <summary>Settings of a <see cref="PredictionLogger"/>; bind from the <c>ConfusionMatrix:PredictionLogger</c> section.</summary>
public sealed class PredictionLoggerOptions
{
    public const string SectionName = "ConfusionMatrix:PredictionLogger";

    /// <summary>Names this service in the generated producer id.</summary>
    public string ServiceName { get; set; } = "inference";

    /// <summary>
    /// Fixed producer id. Leave null (recommended): each logger instance then gets <c>{service}-{machine}-{guid}</c>.
    /// Two live loggers must never share one, or the silo would discard one's batches as replays of the other's.
    /// </summary>
    public string? ProducerId { get; set; }

    /// <summary>A batch is cut when it holds this many predictions.</summary>
    public int BatchSize { get; set; } = 1000;

    /// <summary>A batch is cut this long after its first prediction was logged, however full it is.</summary>
    public TimeSpan BatchInterval { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>Predictions held (queued, in flight or awaiting retry) before <c>LogAsync</c> waits and <c>TryLog</c> drops.</summary>
    public int MaxBufferedPredictions { get; set; } = 1_000_000;

    /// <summary>First retry delay ceiling; each further attempt doubles it, up to <see cref="RetryMaxDelay"/> (full jitter).</summary>
    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromMilliseconds(100);

    public TimeSpan RetryMaxDelay { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long disposal waits for buffered predictions to be sent; what is left then is dropped and counted.</summary>
    public TimeSpan DrainTimeout { get; set; } = TimeSpan.FromSeconds(10);
}

/// <summary>Fails fast, naming the option, so a bad setting stops the host at start rather than losing predictions later.</summary>
public sealed class PredictionLoggerOptionsValidator : IValidateOptions<PredictionLoggerOptions>
{
    private const int MaxProducerIdLength = 200;

    public ValidateOptionsResult Validate(string? name, PredictionLoggerOptions options)
    {
        var failures = new List<string>();
        if (string.IsNullOrWhiteSpace(options.ServiceName) || options.ServiceName.Length > 64)
        {
            failures.Add($"{nameof(PredictionLoggerOptions.ServiceName)} must be 1..64 non-blank characters.");
        }

        if (options.ProducerId is { } id && (string.IsNullOrWhiteSpace(id) || id.Length > MaxProducerIdLength))
        {
            failures.Add($"{nameof(PredictionLoggerOptions.ProducerId)} must be null or 1..{MaxProducerIdLength} non-blank characters.");
        }

        if (options.BatchSize is < 1 or > 100_000)
        {
            failures.Add($"{nameof(PredictionLoggerOptions.BatchSize)} must be between 1 and 100000 (got {options.BatchSize}).");
        }

        if (options.BatchInterval <= TimeSpan.Zero || options.BatchInterval > TimeSpan.FromMinutes(5))
        {
            failures.Add($"{nameof(PredictionLoggerOptions.BatchInterval)} must be positive and at most 5 minutes (got {options.BatchInterval}).");
        }

        if (options.MaxBufferedPredictions < 1)
        {
            failures.Add($"{nameof(PredictionLoggerOptions.MaxBufferedPredictions)} must be positive (got {options.MaxBufferedPredictions}).");
        }
        else if (options.BatchSize > options.MaxBufferedPredictions)
        {
            failures.Add($"{nameof(PredictionLoggerOptions.MaxBufferedPredictions)} ({options.MaxBufferedPredictions}) must be at least {nameof(PredictionLoggerOptions.BatchSize)} ({options.BatchSize}).");
        }

        if (options.RetryBaseDelay <= TimeSpan.Zero)
        {
            failures.Add($"{nameof(PredictionLoggerOptions.RetryBaseDelay)} must be positive (got {options.RetryBaseDelay}).");
        }

        if (options.RetryMaxDelay < options.RetryBaseDelay || options.RetryMaxDelay > TimeSpan.FromHours(1))
        {
            failures.Add($"{nameof(PredictionLoggerOptions.RetryMaxDelay)} must be at least {nameof(PredictionLoggerOptions.RetryBaseDelay)} and at most 1 hour (got {options.RetryMaxDelay}).");
        }

        if (options.DrainTimeout < TimeSpan.Zero)
        {
            failures.Add($"{nameof(PredictionLoggerOptions.DrainTimeout)} must not be negative (got {options.DrainTimeout}).");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

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
