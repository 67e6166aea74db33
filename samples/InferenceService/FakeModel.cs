namespace InferenceService;

/// <summary>A scoring request: features of a payment, plus its true label (the sample replays labelled traffic).</summary>
public sealed record ScoreRequest(string? RequestId, double Amount, string? Region, string? Channel, string? Label);

public sealed record ScoreResponse(string RequestId, string Model, string Version, string Predicted, double Score, bool Logged);

/// <summary>
/// A deterministic stand-in for a fraud model: the score is a logistic curve of the amount with a per-region offset,
/// and each version has its own decision threshold, so versions disagree in a stable, reproducible way.
/// </summary>
public static class FakeModel
{
    public const string Fraud = "fraud";
    public const string Legit = "legit";

    public static (string Predicted, double Score) Score(string version, ScoreRequest request)
    {
        var offset = request.Region switch { "APAC" => 80.0, "US" => -40.0, _ => 0.0 };
        var score = 1.0 / (1.0 + Math.Exp(-((request.Amount + offset) - 500.0) / 150.0));
        var threshold = 0.4 + (Stable(version) % 21 / 100.0); // 0.40 .. 0.60, fixed per version name
        return (score >= threshold ? Fraud : Legit, Math.Round(score, 6));
    }

    /// <summary>A draw in [0, 100) that is the same for every retry of one request id.</summary>
    public static double Draw(string requestId) => Stable(requestId) % 10_000 / 100.0;

    /// <summary>FNV-1a: stable across processes, unlike string.GetHashCode.</summary>
    public static uint Stable(string text)
    {
        var hash = 2166136261u;
        foreach (var c in text)
        {
            hash = (hash ^ c) * 16777619u;
        }

        return hash;
    }
}
