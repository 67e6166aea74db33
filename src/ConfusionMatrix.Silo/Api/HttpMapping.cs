using System.Collections.Immutable;
using System.Text.Json;
using ConfusionMatrix.Abstractions;
using ConfusionMatrix.Api.Contracts;
using ConfusionMatrix.Core;
using ConfusionMatrix.Core.Estimation;

namespace ConfusionMatrix.Silo.Api;

/// <summary>
/// Maps the grains' wire records (and the Core results the API computes itself) to the HTTP API's records of
/// <c>ConfusionMatrix.Api.Contracts</c>, and requests to the wire records they set: the one place where the HTTP
/// contract meets the cluster's, so either can change without the other noticing until this file does.
/// </summary>
public static class HttpMapping
{
    public static DriftPolicyResponse ToResponse(DriftPolicySettings p) => new(
        p.Alpha,
        p.SevereDrop,
        p.KlThreshold,
        p.MaxFairnessGap,
        p.MinExpectedCellCount,
        p.MinSamples,
        p.SmoothingAlpha,
        p.EvaluationInterval,
        p.EvidenceThreshold,
        p.EpochLength,
        p.Tolerance,
        p.MixingStandardDeviation,
        p.LabelDelay,
        p.OmnibusHalfInformation,
        p.EffectiveEvaluationInterval,
        p.EffectiveEpochLength,
        p.EffectiveLabelDelay);

    public static ClassDeltaResponse ToResponse(ClassDeltaView d) => new(
        d.Class,
        d.Metric,
        d.Reference,
        d.Live,
        d.Drop,
        d.AlwaysValidPValue,
        d.Threshold,
        d.ReferenceDenominator,
        d.LiveDenominator,
        d.Sufficient,
        d.Significant,
        d.Material,
        d.LowerBound,
        d.UpperBound,
        d.EValue,
        d.Severe);

    public static DriftVerdictResponse ToResponse(DriftVerdict v) => new(
        v.Model,
        v.Version,
        v.Segment,
        v.Decision,
        v.Reason,
        v.Reference,
        v.Kl,
        v.Js,
        v.G,
        v.DegreesOfFreedom,
        v.PValue,
        v.OmnibusAdjustedPValue,
        v.LiveTotal,
        v.ReferenceTotal,
        Map(v.ClassDeltas, ToResponse),
        v.At,
        v.Looks,
        v.EValue,
        v.NonInferior,
        v.IsAlarm);

    public static RateGapResponse ToResponse(RateGapView g) =>
        new(g.Segment, g.Metric, g.SegmentRate, g.RestRate, g.Gap, g.AlwaysValidPValue, g.Threshold, g.Sufficient, g.Significant, g.Material);

    public static FairnessVerdictResponse ToResponse(FairnessVerdict f) =>
        new(f.Model, f.Version, f.Dimension, f.Alert, f.Reason, Map(f.Gaps, ToResponse), f.At);

    public static DriftReportResponse ToResponse(DriftReport r) => new(
        r.Model,
        ToResponse(r.Policy),
        Map(r.Verdicts, ToResponse),
        Map(r.Fairness, ToResponse),
        r.LastEvaluatedAt,
        r.Evaluations,
        r.EpochStartedAt);

    public static RoutingTableResponse ToResponse(RoutingTable t) => new(t.Model, t.Stable, t.Canary, t.CanaryWeightPercent, t.Phase);

    public static RolloutTransitionResponse ToResponse(RolloutTransition t) => new(
        t.Sequence,
        t.At,
        t.Action,
        t.Actor,
        t.Reason,
        t.From,
        t.To,
        t.Stable,
        t.Canary,
        t.CanaryWeightPercent,
        t.Verdict is null ? null : ToResponse(t.Verdict));

    /// <summary>The policy as readers see it: a webhook secret is never shown, only <see cref="RolloutPolicy.RedactedSecret"/>.</summary>
    public static RolloutPolicyResponse ToResponse(RolloutPolicy policy)
    {
        var p = policy.Redacted();
        return new(p.PauseCanaryOnDrift, p.RollbackCanaryOnSevere, p.RollbackPromotionOnDrift, p.GuardPeriod, p.DriftPauseKeepsWeight, Map(p.Webhooks, w => w), p.EffectiveGuardPeriod, p.WebhookSecret);
    }

    /// <summary>The rollout as readers see it, its policy redacted.</summary>
    public static RolloutViewResponse ToResponse(RolloutView v) =>
        new(ToResponse(v.Routing), v.PreviousStable, v.PromotedAt, ToResponse(v.Policy), Map(v.History, ToResponse));

    public static RolloutHistoryPageResponse ToResponse(RolloutHistoryPage page) => new(Map(page.Transitions, ToResponse), page.Next, page.Dropped);

    public static DeadLetterResponse ToResponse(DeadLetter d) => new(d.At, d.StreamKey, d.BatchId, d.Predictions, d.Reason);

    public static IReadOnlyList<DeadLetterResponse> ToResponse(ImmutableArray<DeadLetter> letters) => Map(letters, ToResponse);

    public static ModelResponse ToResponse(ModelDefinition d) =>
        new(d.Model, d.Classes, d.PositiveClass, d.SegmentDimensions, d.UpdatedAt, d.EffectiveLabelTtl, d.EffectiveLabelGracePeriod);

    /// <summary>Metrics keyed by the model's class names.</summary>
    public static MetricsResponse ToResponse(MatrixMetrics m, ModelDefinition definition) => MetricsResponse.From(m, definition.Classes);

    /// <summary>A label-free comparison with its categories named (the test knows only indices).</summary>
    public static ShiftResponse ToResponse(CategoricalShiftResult r, IReadOnlyList<string> names) => new(
        r.CanaryTotal,
        r.StableTotal,
        r.Sufficient,
        r.Shifted,
        r.PValue,
        r.Alpha,
        [.. r.Categories.Select(c => new CategoryShiftResponse(names[c.Index], c.CanaryShare, c.StableShare, c.Difference, c.Lower, c.Upper, c.PValue, c.Shifted))]);

    /// <summary>A drift policy request as the policy it sets: omitted fields take the policy's defaults.</summary>
    public static DriftPolicySettings ToPolicy(DriftPolicyRequest r)
    {
        var d = new DriftPolicySettings();
        return new(
            r.Alpha ?? d.Alpha,
            r.SevereDrop ?? d.SevereDrop,
            r.KlThreshold ?? d.KlThreshold,
            r.MaxFairnessGap ?? d.MaxFairnessGap,
            r.MinExpectedCellCount ?? d.MinExpectedCellCount,
            r.MinSamples ?? d.MinSamples,
            r.SmoothingAlpha ?? d.SmoothingAlpha,
            r.EvaluationInterval,
            r.EvidenceThreshold ?? d.EvidenceThreshold,
            r.EpochLength,
            r.Tolerance ?? d.Tolerance,
            r.MixingStandardDeviation ?? d.MixingStandardDeviation,
            r.LabelDelay,
            r.OmnibusHalfInformation ?? d.OmnibusHalfInformation);
    }

    /// <summary>A rollout policy request as the policy it sets: omitted fields take the policy's defaults.</summary>
    public static RolloutPolicy ToPolicy(RolloutPolicyRequest r)
    {
        var d = new RolloutPolicy();
        return new(
            r.PauseCanaryOnDrift ?? d.PauseCanaryOnDrift,
            r.RollbackCanaryOnSevere ?? d.RollbackCanaryOnSevere,
            r.RollbackPromotionOnDrift ?? d.RollbackPromotionOnDrift,
            r.GuardPeriod,
            [.. r.Webhooks ?? []],
            r.DriftPauseKeepsWeight ?? d.DriftPauseKeepsWeight)
        {
            WebhookSecret = r.WebhookSecret,
        };
    }

    /// <summary>An audit record with its snapshots as JSON values again (a snapshot that is not JSON becomes a string).</summary>
    public static AuditRecordResponse ToResponse(AuditRecord r) =>
        new(r.Sequence, r.At, r.Principal, r.Roles, r.Action, r.Target, Json(r.Before), Json(r.After), r.RequestId, r.Note, r.Status);

    /// <summary>A list of an immutable array; a default array, which cannot be serialised, reads as empty.</summary>
    private static IReadOnlyList<TResponse> Map<T, TResponse>(ImmutableArray<T> items, Func<T, TResponse> map) =>
        items.IsDefaultOrEmpty ? [] : [.. items.Select(map)];

    private static JsonElement? Json(string? text)
    {
        if (text is null)
        {
            return null;
        }

        try
        {
            using var doc = JsonDocument.Parse(text);
            return doc.RootElement.Clone();
        }
        catch (JsonException)
        {
            return JsonSerializer.SerializeToElement(text);
        }
    }
}
