using System.Collections.Immutable;
using Orleans.Concurrency;

namespace ConfusionMatrix.Abstractions;

/// <summary>Thresholds of the drift watcher for one model; see docs/statistics.md for why each default is safe.</summary>
[GenerateSerializer, Immutable, Alias("cm.DriftPolicySettings")]
public sealed record DriftPolicySettings(
    [property: Id(0)] double Alpha = 0.01,
    [property: Id(1)] double MinRecallDrop = 0.05,
    [property: Id(2)] double MinPrecisionDrop = 0.05,
    [property: Id(3)] double SevereDrop = 0.15,
    [property: Id(4)] double KlThreshold = 0.02,
    [property: Id(5)] double MaxFairnessGap = 0.10,
    [property: Id(6)] double MinExpectedCellCount = 5,
    [property: Id(7)] long MinSamples = 200,
    [property: Id(8)] double SmoothingAlpha = 0.5,
    [property: Id(9)] TimeSpan? EvaluationInterval = null,
    [property: Id(10)] long EvidenceThreshold = 500,
    [property: Id(11)] TimeSpan? EpochLength = null)
{
    public static readonly TimeSpan DefaultEvaluationInterval = TimeSpan.FromSeconds(10);
    public static readonly TimeSpan DefaultEpochLength = TimeSpan.FromHours(6);

    public TimeSpan EffectiveEvaluationInterval => EvaluationInterval ?? DefaultEvaluationInterval;

    public TimeSpan EffectiveEpochLength => EpochLength ?? DefaultEpochLength;
}

/// <summary>A per-class change between live and reference.</summary>
[GenerateSerializer, Immutable, Alias("cm.ClassDeltaView")]
public sealed record ClassDeltaView(
    [property: Id(0)] string Class,
    [property: Id(1)] string Metric,
    [property: Id(2)] double Reference,
    [property: Id(3)] double Live,
    [property: Id(4)] double Drop,
    [property: Id(5)] double AlwaysValidPValue,
    [property: Id(6)] double Threshold,
    [property: Id(7)] long ReferenceDenominator,
    [property: Id(8)] long LiveDenominator,
    [property: Id(9)] bool Sufficient,
    [property: Id(10)] bool Significant,
    [property: Id(11)] bool Material);

/// <summary>The latest judgement of one (version, segment) against its reference.</summary>
[GenerateSerializer, Immutable, Alias("cm.DriftVerdict")]
public sealed record DriftVerdict(
    [property: Id(0)] string Model,
    [property: Id(1)] string Version,
    [property: Id(2)] string Segment,
    [property: Id(3)] string Decision,
    [property: Id(4)] string Reason,
    [property: Id(5)] string Reference,
    [property: Id(6)] double Kl,
    [property: Id(7)] double Js,
    [property: Id(8)] double G,
    [property: Id(9)] int DegreesOfFreedom,
    [property: Id(10)] double PValue,
    [property: Id(11)] double OmnibusAdjustedPValue,
    [property: Id(12)] long LiveTotal,
    [property: Id(13)] long ReferenceTotal,
    [property: Id(14)] ImmutableArray<ClassDeltaView> ClassDeltas,
    [property: Id(15)] DateTimeOffset At,
    [property: Id(16)] long Looks)
{
    public const string InsufficientEvidence = "insufficient_evidence";
    public const string NoDrift = "no_drift";
    public const string Drift = "drift";
    public const string Severe = "severe";

    public bool IsAlarm => Decision is Drift or Severe;
}

/// <summary>A gap in false-negative or false-positive rate between one segment and the rest of its dimension.</summary>
[GenerateSerializer, Immutable, Alias("cm.RateGapView")]
public sealed record RateGapView(
    [property: Id(0)] string Segment,
    [property: Id(1)] string Metric,
    [property: Id(2)] double SegmentRate,
    [property: Id(3)] double RestRate,
    [property: Id(4)] double Gap,
    [property: Id(5)] double AlwaysValidPValue,
    [property: Id(6)] double Threshold,
    [property: Id(7)] bool Sufficient,
    [property: Id(8)] bool Significant,
    [property: Id(9)] bool Material);

[GenerateSerializer, Immutable, Alias("cm.FairnessVerdict")]
public sealed record FairnessVerdict(
    [property: Id(0)] string Model,
    [property: Id(1)] string Version,
    [property: Id(2)] string Dimension,
    [property: Id(3)] bool Alert,
    [property: Id(4)] string Reason,
    [property: Id(5)] ImmutableArray<RateGapView> Gaps,
    [property: Id(6)] DateTimeOffset At);

[GenerateSerializer, Immutable, Alias("cm.DriftReport")]
public sealed record DriftReport(
    [property: Id(0)] string Model,
    [property: Id(1)] DriftPolicySettings Policy,
    [property: Id(2)] ImmutableArray<DriftVerdict> Verdicts,
    [property: Id(3)] ImmutableArray<FairnessVerdict> Fairness,
    [property: Id(4)] DateTimeOffset? LastEvaluatedAt,
    [property: Id(5)] long Evaluations,
    [property: Id(6)] DateTimeOffset? EpochStartedAt);

/// <summary>
/// Watches every (version, segment) of one model, keyed by model name. Segment grains tell it when enough new evidence
/// has arrived; it evaluates those on a timer (never by polling every segment) and tells the rollout controller.
/// </summary>
[Alias("cm.IDriftWatcherGrain")]
public interface IDriftWatcherGrain : IGrainWithStringKey
{
    [Alias("NotifyEvidence"), OneWay]
    Task NotifyEvidenceAsync(string version, string segment, long newPredictions);

    /// <summary>Evaluates every known segment of the versions in play now; used by operators, tests and the demo.</summary>
    [Alias("EvaluateNow")]
    Task<DriftReport> EvaluateNowAsync();

    [Alias("GetReport")]
    ValueTask<DriftReport> GetReportAsync();

    [Alias("SetPolicy")]
    Task<DriftReport> SetPolicyAsync(DriftPolicySettings policy);

    /// <summary>Starts a new monitoring epoch: counts from here on are the live evidence, sequential tests restart.</summary>
    /// <remarks>One-way: the rollout controller calls it while the watcher may be waiting on the controller.</remarks>
    [Alias("StartEpoch"), OneWay]
    Task StartEpochAsync(string reason);

    /// <summary>Canary gate for Argo Rollouts / Flagger: false while any segment of the version is in drift.</summary>
    [Alias("Gate")]
    ValueTask<(bool Pass, string Reason)> GateAsync(string version);
}
