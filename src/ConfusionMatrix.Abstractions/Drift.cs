using System.Collections.Immutable;
using Orleans.Concurrency;

namespace ConfusionMatrix.Abstractions;

/// <summary>
/// Thresholds of the drift watcher for one model; see docs/statistics.md for the method and why each default is safe.
/// Ids 1 and 2 (the former point-estimate drop thresholds) are retired.
/// </summary>
[GenerateSerializer, Immutable, Alias("cm.DriftPolicySettings")]
public sealed record DriftPolicySettings(
    [property: Id(0)] double Alpha = 0.05,
    [property: Id(3)] double SevereDrop = 0.15,
    [property: Id(4)] double KlThreshold = 0.02,
    [property: Id(5)] double MaxFairnessGap = 0.10,
    [property: Id(6)] double MinExpectedCellCount = 5,
    [property: Id(7)] long MinSamples = 200,
    [property: Id(8)] double SmoothingAlpha = 0.5,
    [property: Id(9)] TimeSpan? EvaluationInterval = null,
    [property: Id(10)] long EvidenceThreshold = 500,
    [property: Id(11)] TimeSpan? EpochLength = null,
    [property: Id(12)] double Tolerance = 0.02,
    [property: Id(13)] double MixingStandardDeviation = 0.10,
    [property: Id(14)] TimeSpan? LabelDelay = null,
    [property: Id(15)] double OmnibusHalfInformation = 20_000)
{
    public static readonly TimeSpan DefaultEvaluationInterval = TimeSpan.FromSeconds(10);
    public static readonly TimeSpan DefaultEpochLength = TimeSpan.FromHours(6);

    public TimeSpan EffectiveEvaluationInterval => EvaluationInterval ?? DefaultEvaluationInterval;

    public TimeSpan EffectiveEpochLength => EpochLength ?? DefaultEpochLength;

    /// <summary>Zero (the default) judges evidence as it arrives; otherwise only prediction-time cohorts this old.</summary>
    public TimeSpan EffectiveLabelDelay => LabelDelay ?? TimeSpan.Zero;
}

/// <summary>
/// A per-class change between live and reference of a rate conditional on the actual class ("recall" or "fpr").
/// Drop is how much worse live is; LowerBound/UpperBound bound the true drop at every look at once (the lower at the
/// decision level Threshold, the upper at the gate level; null until the comparison has been judged once); EValue is
/// the evidence against "drop within tolerance".
/// </summary>
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
    [property: Id(11)] bool Material,
    [property: Id(12)] double? LowerBound = null,
    [property: Id(13)] double? UpperBound = null,
    [property: Id(14)] double EValue = 1,
    [property: Id(15)] bool Severe = false);

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
    [property: Id(16)] long Looks,
    [property: Id(17)] double EValue = 1,
    [property: Id(18)] bool NonInferior = false)
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

/// <summary>The gate's answer: <see cref="Inconclusive"/> means "not enough evidence either way" and never passes.</summary>
[GenerateSerializer, Immutable, Alias("cm.GateAnswer")]
public sealed record GateAnswer(
    [property: Id(0)] bool Pass,
    [property: Id(1)] bool Inconclusive,
    [property: Id(2)] string Reason);

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

    /// <summary>
    /// The latest verdicts. Read-only: rollout transitions not read yet are applied by <see cref="SyncRolloutAsync"/>,
    /// which this sends to the watcher itself, so a report read right after a transition may still show the old epoch.
    /// </summary>
    [Alias("GetReport"), ReadOnly]
    ValueTask<DriftReport> GetReportAsync();

    /// <summary>Reads the rollout transitions published since the last read; one that changes what is compared starts a new epoch.</summary>
    [Alias("SyncRollout"), OneWay]
    Task SyncRolloutAsync();

    [Alias("SetPolicy")]
    Task<DriftReport> SetPolicyAsync(DriftPolicySettings policy);

    /// <summary>
    /// Starts a new monitoring epoch on an operator's request: counts from here on are the live evidence, sequential
    /// tests restart. Rollout transitions start one on their own: the watcher reads them from the controller.
    /// </summary>
    [Alias("StartEpoch")]
    Task StartEpochAsync(string reason);

    /// <summary>
    /// Non-inferiority gate for Argo Rollouts / Flagger: passes only when judged segments exist and every judged drop
    /// is shown below the tolerance; fails on drift or a widened fairness gap; otherwise inconclusive. Read-only: verdicts
    /// older than the latest epoch-starting transition are ignored even before the watcher has read that transition.
    /// </summary>
    [Alias("Gate"), ReadOnly]
    Task<GateAnswer> GateAsync(string version);
}
