using Microsoft.Extensions.Options;

namespace InferenceService;

/// <summary>Settings of the sample service; section <c>Inference</c>.</summary>
public sealed class InferenceOptions
{
    public const string SectionName = "Inference";

    /// <summary>The model this service scores for.</summary>
    public string Model { get; set; } = "fraud";

    /// <summary>Served when the rollout controller has no stable version yet (phase Empty) or cannot be reached at all.</summary>
    public string DefaultVersion { get; set; } = "v1";

    /// <summary>How long a routing table read from the rollout controller is reused.</summary>
    public TimeSpan RoutingCacheDuration { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Gateway port of the local silo (UseLocalhostClustering).</summary>
    public int GatewayPort { get; set; } = 30000;

    public string ClusterId { get; set; } = "confusionmatrix";

    public string ServiceId { get; set; } = "confusionmatrix";

    /// <summary>Must equal the silo's ConfusionMatrix:Streams:QueueCount when the silo uses memory streams.</summary>
    public int StreamQueueCount { get; set; } = 8;

    /// <summary><c>stream</c> (prediction-log stream, the default) or <c>grain</c> (direct IVersionRouterGrain.IngestAsync calls).</summary>
    public string Sink { get; set; } = "stream";

    /// <summary>Registers the model (classes legit/fraud, dimensions region and channel) at start when it is not registered yet.</summary>
    public bool RegisterModelOnStart { get; set; } = true;
}

public sealed class InferenceOptionsValidator : IValidateOptions<InferenceOptions>
{
    public ValidateOptionsResult Validate(string? name, InferenceOptions o)
    {
        var failures = new List<string>();
        if (!ConfusionMatrix.Abstractions.PredictionLimits.IsValidName(o.Model))
        {
            failures.Add($"{SectionName(nameof(o.Model))} must be 1..128 characters without '/' or '='.");
        }

        if (!ConfusionMatrix.Abstractions.PredictionLimits.IsValidName(o.DefaultVersion))
        {
            failures.Add($"{SectionName(nameof(o.DefaultVersion))} must be 1..128 characters without '/' or '='.");
        }

        if (o.RoutingCacheDuration <= TimeSpan.Zero || o.RoutingCacheDuration > TimeSpan.FromMinutes(10))
        {
            failures.Add($"{SectionName(nameof(o.RoutingCacheDuration))} must be positive and at most 10 minutes.");
        }

        if (o.GatewayPort is < 1 or > 65535)
        {
            failures.Add($"{SectionName(nameof(o.GatewayPort))} must be a TCP port (1..65535).");
        }

        if (string.IsNullOrWhiteSpace(o.ClusterId) || string.IsNullOrWhiteSpace(o.ServiceId))
        {
            failures.Add($"{SectionName(nameof(o.ClusterId))} and {SectionName(nameof(o.ServiceId))} must be set.");
        }

        if (o.StreamQueueCount is < 1 or > 1024)
        {
            failures.Add($"{SectionName(nameof(o.StreamQueueCount))} must be between 1 and 1024.");
        }

        if (o.Sink is not ("stream" or "grain"))
        {
            failures.Add($"{SectionName(nameof(o.Sink))} must be 'stream' or 'grain' (got '{o.Sink}').");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private static string SectionName(string option) => $"{InferenceOptions.SectionName}:{option}";
}
