using ConfusionMatrix.Abstractions;

namespace ConfusionMatrix.Api.Contracts;

// The HTTP shapes of drift reports, rollouts and dead letters. They carry the same JSON as the wire records they are
// mapped from (HttpMapping), computed properties included, so the grains' records can change without changing what
// the CLI, the operator page and inference services read. Property order is the JSON order: keep it.

/// <summary>
/// The drift watcher's thresholds as read, with the effective values of the optional durations.
/// See <see cref="DriftPolicySettings"/> for what each means.
/// </summary>
public sealed record DriftPolicyResponse(
    double Alpha,
    double SevereDrop,
    double KlThreshold,
    double MaxFairnessGap,
    double MinExpectedCellCount,
    long MinSamples,
    double SmoothingAlpha,
    TimeSpan? EvaluationInterval,
    long EvidenceThreshold,
    TimeSpan? EpochLength,
    double Tolerance,
    double MixingStandardDeviation,
    TimeSpan? LabelDelay,
    double OmnibusHalfInformation,
    TimeSpan EffectiveEvaluationInterval,
    TimeSpan EffectiveEpochLength,
    TimeSpan EffectiveLabelDelay);

/// <summary>
/// The body of <c>PUT …/drift/policy</c>: the fields of the drift policy (see <see cref="DriftPolicyResponse"/> and
/// docs/statistics.md); an omitted field keeps its default. Defaults are not repeated here: they are the drift
/// policy's own, applied when the request is mapped.
/// </summary>
public sealed record DriftPolicyRequest(
    double? Alpha = null,
    double? SevereDrop = null,
    double? KlThreshold = null,
    double? MaxFairnessGap = null,
    double? MinExpectedCellCount = null,
    long? MinSamples = null,
    double? SmoothingAlpha = null,
    TimeSpan? EvaluationInterval = null,
    long? EvidenceThreshold = null,
    TimeSpan? EpochLength = null,
    double? Tolerance = null,
    double? MixingStandardDeviation = null,
    TimeSpan? LabelDelay = null,
    double? OmnibusHalfInformation = null);

/// <summary>A per-class change of recall or false-positive rate between live and reference; see <see cref="ClassDeltaView"/>.</summary>
public sealed record ClassDeltaResponse(
    string Class,
    string Metric,
    double Reference,
    double Live,
    double Drop,
    double AlwaysValidPValue,
    double Threshold,
    long ReferenceDenominator,
    long LiveDenominator,
    bool Sufficient,
    bool Significant,
    bool Material,
    double? LowerBound,
    double? UpperBound,
    double EValue,
    bool Severe);

/// <summary>
/// The latest judgement of one (version, segment); <c>decision</c> is insufficient_evidence, no_drift, drift or severe,
/// and <c>isAlarm</c> is true for the last two.
/// </summary>
public sealed record DriftVerdictResponse(
    string Model,
    string Version,
    string Segment,
    string Decision,
    string Reason,
    string Reference,
    double Kl,
    double Js,
    double G,
    int DegreesOfFreedom,
    double PValue,
    double OmnibusAdjustedPValue,
    long LiveTotal,
    long ReferenceTotal,
    IReadOnlyList<ClassDeltaResponse> ClassDeltas,
    DateTimeOffset At,
    long Looks,
    double EValue,
    bool NonInferior,
    bool IsAlarm);

/// <summary>A gap in false-negative or false-positive rate between one segment and the rest of its dimension.</summary>
public sealed record RateGapResponse(
    string Segment,
    string Metric,
    double SegmentRate,
    double RestRate,
    double Gap,
    double AlwaysValidPValue,
    double Threshold,
    bool Sufficient,
    bool Significant,
    bool Material);

public sealed record FairnessVerdictResponse(
    string Model,
    string Version,
    string Dimension,
    bool Alert,
    string Reason,
    IReadOnlyList<RateGapResponse> Gaps,
    DateTimeOffset At);

/// <summary>The answer of <c>GET …/drift</c>, <c>POST …/drift/evaluate</c> and <c>PUT …/drift/policy</c>.</summary>
public sealed record DriftReportResponse(
    string Model,
    DriftPolicyResponse Policy,
    IReadOnlyList<DriftVerdictResponse> Verdicts,
    IReadOnlyList<FairnessVerdictResponse> Fairness,
    DateTimeOffset? LastEvaluatedAt,
    long Evaluations,
    DateTimeOffset? EpochStartedAt);

/// <summary>What inference services route by (<c>GET …/rollout/routing</c>): which version gets which share of traffic.</summary>
public sealed record RoutingTableResponse(string Model, string? Stable, string? Canary, int CanaryWeightPercent, RolloutPhase Phase);

/// <summary>
/// One change of rollout state. <c>action</c> stays a string: a transition written by a newer release may carry a word
/// this one does not know, and it is still shown.
/// </summary>
public sealed record RolloutTransitionResponse(
    long Sequence,
    DateTimeOffset At,
    string Action,
    string Actor,
    string Reason,
    RolloutPhase From,
    RolloutPhase To,
    string? Stable,
    string? Canary,
    int CanaryWeightPercent,
    DriftVerdictResponse? Verdict);

/// <summary>The rollout policy as read: the webhook secret, when set, is always shown as <see cref="RolloutPolicy.RedactedSecret"/>.</summary>
public sealed record RolloutPolicyResponse(
    bool PauseCanaryOnDrift,
    bool RollbackCanaryOnSevere,
    bool RollbackPromotionOnDrift,
    TimeSpan? GuardPeriod,
    bool DriftPauseKeepsWeight,
    IReadOnlyList<string> Webhooks,
    TimeSpan EffectiveGuardPeriod,
    string? WebhookSecret);

/// <summary>A rollout's state as read (<c>GET …/rollout</c> and the answer of every rollout operation).</summary>
public sealed record RolloutViewResponse(
    RoutingTableResponse Routing,
    string? PreviousStable,
    DateTimeOffset? PromotedAt,
    RolloutPolicyResponse Policy,
    IReadOnlyList<RolloutTransitionResponse> History);

/// <summary>A page of rollout transitions, oldest first; <c>next</c> is the <c>after</c> of the next page, null at the end.</summary>
public sealed record RolloutHistoryPageResponse(IReadOnlyList<RolloutTransitionResponse> Transitions, long? Next, long Dropped);

/// <summary>A batch refused whole, kept with its reason (<c>GET …/dead-letters</c>, newest last).</summary>
public sealed record DeadLetterResponse(DateTimeOffset At, string StreamKey, string BatchId, int Predictions, string Reason);

public sealed record RolloutActionRequest(string? Version, int? Weight, string? Actor, string? Reason);

/// <summary>
/// The body of <c>PUT …/rollout/policy</c>, the fields of <see cref="RolloutPolicyResponse"/> but the effective guard
/// period; an omitted field keeps the rollout policy's default, applied when the request is mapped. A webhook secret
/// sent back as read (redacted) keeps the secret already set.
/// </summary>
public sealed record RolloutPolicyRequest(
    bool? PauseCanaryOnDrift = null,
    bool? RollbackCanaryOnSevere = null,
    bool? RollbackPromotionOnDrift = null,
    TimeSpan? GuardPeriod = null,
    IReadOnlyList<string>? Webhooks = null,
    bool? DriftPauseKeepsWeight = null,
    string? WebhookSecret = null);

/// <summary>The gate's body. <c>inconclusive</c>: not enough evidence either way, which never passes.</summary>
public sealed record GateResponse(string Model, string? Version, bool Pass, bool Inconclusive, string Reason, string Phase);
