using System.Collections.Immutable;
using ConfusionMatrix.Abstractions;
using ConfusionMatrix.Core.Drift;
using Microsoft.Extensions.Logging;

namespace ConfusionMatrix.Grains;

[GenerateSerializer, Alias("cm.RolloutState")]
public sealed class RolloutState
{
    [Id(0)] public string? Stable { get; set; }

    [Id(1)] public string? Canary { get; set; }

    [Id(2)] public int CanaryWeightPercent { get; set; }

    [Id(3)] public int WeightBeforePause { get; set; }

    [Id(4)] public RolloutPhase Phase { get; set; }

    [Id(5)] public string? PreviousStable { get; set; }

    [Id(6)] public DateTimeOffset? PromotedAt { get; set; }

    [Id(7)] public RolloutPolicy Policy { get; set; } = new();

    [Id(8)] public List<RolloutTransition> History { get; set; } = [];

    [Id(9)] public long NextSequence { get; set; } = 1;

    /// <summary>Transitions dropped from <see cref="History"/> by its bounds, ever.</summary>
    [Id(10)] public long Dropped { get; set; }
}

/// <summary>
/// The rollout state machine of one model. Every transition is persisted with who or what made it and why before it
/// takes effect for routing, then announced to the drift watcher (new epoch) and to webhooks.
/// </summary>
public sealed class RolloutControllerGrain(
    [PersistentState("rollout", StorageNames.Control)] IPersistentState<RolloutState> state,
    IRolloutNotifier notifier,
    ConfusionMatrixInstruments instruments,
    ApplicationClock clock,
    ILogger<RolloutControllerGrain> logger) : Grain, IRolloutControllerGrain
{
    /// <summary>Transitions kept per model; older ones are in the audit trail, the logs and webhook receivers.</summary>
    public const int MaxHistory = 1000;

    /// <summary>
    /// Estimated serialized size of the kept history (JSON characters, larger than the binary form): the oldest go
    /// first above it, so the state stays one Azure Table entity (1 MiB) with room for the rest.
    /// </summary>
    public const int MaxHistoryChars = 256 * 1024;

    /// <summary>The class deltas a transition keeps of the verdict that caused it: the judged findings, worst first.</summary>
    public const int MaxVerdictDeltas = 16;

    public const int MaxHistoryPageSize = 1000;

    public const string DriftWatcherActor = "drift-watcher";

    private string Model => this.GetPrimaryKeyString();

    public ValueTask<RoutingTable> GetRoutingAsync() => ValueTask.FromResult(Routing());

    public ValueTask<RolloutView> GetStateAsync() => ValueTask.FromResult(View());

    public ValueTask<RolloutHistoryPage> GetHistoryAsync(long? after, int limit)
    {
        limit = Math.Clamp(limit, 1, MaxHistoryPageSize);
        var page = state.State.History.Where(t => after is null || t.Sequence > after).Take(limit + 1).ToList();
        var more = page.Count > limit;
        if (more)
        {
            page.RemoveAt(limit);
        }

        return ValueTask.FromResult(new RolloutHistoryPage([.. page], more ? page[^1].Sequence : null, state.State.Dropped));
    }

    public Task<RolloutView> SetStableAsync(string version, string actor, string reason)
    {
        RequireName(version);
        Require(state.State.Canary is null, "a canary is in progress; promote it or roll it back first");
        return TransitionAsync(RolloutAction.SetStable, actor, reason, null, s =>
        {
            s.PreviousStable = s.Stable;
            s.Stable = version;
            s.PromotedAt = null;
            s.Phase = RolloutPhase.Stable;
        });
    }

    public Task<RolloutView> StartCanaryAsync(string version, int weightPercent, string actor, string reason)
    {
        RequireName(version);
        RequireWeight(weightPercent);
        var s = state.State;
        Require(s.Stable is not null, "there is no stable version to compare a canary with; set one first");
        Require(s.Canary is null, $"canary {s.Canary} is already in progress");
        Require(version != s.Stable, $"{version} is the stable version");
        return TransitionAsync(RolloutAction.StartCanary, actor, reason, null, s =>
        {
            s.Canary = version;
            s.CanaryWeightPercent = weightPercent;
            s.Phase = RolloutPhase.Progressing;
        });
    }

    public Task<RolloutView> SetWeightAsync(int weightPercent, string actor, string reason)
    {
        RequireWeight(weightPercent);
        Require(state.State.Phase == RolloutPhase.Progressing, $"weights change only while a canary progresses (phase is {state.State.Phase})");
        return TransitionAsync(RolloutAction.SetWeight, actor, reason, null, s => s.CanaryWeightPercent = weightPercent);
    }

    public Task<RolloutView> PromoteAsync(string actor, string reason)
    {
        Require(state.State.Phase is RolloutPhase.Progressing or RolloutPhase.Paused, $"there is no canary to promote (phase is {state.State.Phase})");
        return TransitionAsync(RolloutAction.Promote, actor, reason, null, s =>
        {
            s.PreviousStable = s.Stable;
            s.Stable = s.Canary;
            s.Canary = null;
            s.CanaryWeightPercent = 0;
            s.PromotedAt = clock.GetUtcNow();
            s.Phase = RolloutPhase.Promoted;
        });
    }

    public Task<RolloutView> PauseAsync(string actor, string reason)
    {
        Require(state.State.Phase == RolloutPhase.Progressing, $"only a progressing canary can be paused (phase is {state.State.Phase})");
        return TransitionAsync(RolloutAction.Pause, actor, reason, null, Pause);
    }

    public Task<RolloutView> ResumeAsync(string actor, string reason)
    {
        Require(state.State.Phase == RolloutPhase.Paused, $"only a paused canary can be resumed (phase is {state.State.Phase})");
        return TransitionAsync(RolloutAction.Resume, actor, reason, null, s =>
        {
            s.CanaryWeightPercent = s.WeightBeforePause;
            s.Phase = RolloutPhase.Progressing;
        });
    }

    public Task<RolloutView> RollbackAsync(string actor, string reason)
    {
        var s = state.State;
        var canRevertPromotion = s.Phase == RolloutPhase.Promoted && s.PreviousStable is not null;
        Require(s.Canary is not null || canRevertPromotion, $"there is nothing to roll back (phase is {s.Phase})");
        return TransitionAsync(RolloutAction.Rollback, actor, reason, null, Rollback);
    }

    public Task<RolloutView> SetPolicyAsync(RolloutPolicy policy, string actor)
    {
        var problem = policy.Validate();
        if (problem is not null)
        {
            throw new ArgumentException(problem);
        }

        return TransitionAsync(RolloutAction.SetPolicy, actor, "rollout policy changed", null, s => s.Policy = policy);
    }

    public async Task OnVerdictAsync(DriftVerdict verdict)
    {
        if (!verdict.IsAlarm)
        {
            return;
        }

        var s = state.State;
        var policy = s.Policy;
        var severe = verdict.Outcome == DriftDecision.Severe;
        var why = $"{verdict.Decision} on {verdict.Version}/{verdict.Segment} vs {verdict.Reference}: {verdict.Reason}";
        if (verdict.Version == s.Canary)
        {
            if (severe && policy.RollbackCanaryOnSevere)
            {
                await TransitionAsync(RolloutAction.Rollback, DriftWatcherActor, why, verdict, Rollback);
            }
            else if (s.Phase == RolloutPhase.Progressing && policy.PauseCanaryOnDrift)
            {
                await TransitionAsync(RolloutAction.Pause, DriftWatcherActor, why, verdict, policy.DriftPauseKeepsWeight ? PauseKeepingWeight : Pause);
            }
        }
        else if (verdict.Version == s.Stable
            && s.Phase == RolloutPhase.Promoted
            && s.PreviousStable is not null
            && s.PromotedAt is { } promotedAt
            && clock.GetUtcNow() - promotedAt <= policy.EffectiveGuardPeriod
            && policy.RollbackPromotionOnDrift)
        {
            await TransitionAsync(RolloutAction.Rollback, DriftWatcherActor, $"within the {policy.EffectiveGuardPeriod} guard period after promotion, {why}", verdict, Rollback);
        }
    }

    private void Pause(RolloutState s)
    {
        s.WeightBeforePause = s.CanaryWeightPercent;
        s.CanaryWeightPercent = 0;
        s.Phase = RolloutPhase.Paused;
    }

    /// <summary>A drift pause that keeps the canary's share, so evidence keeps arriving; only progress stops.</summary>
    private static void PauseKeepingWeight(RolloutState s)
    {
        s.WeightBeforePause = s.CanaryWeightPercent;
        s.Phase = RolloutPhase.Paused;
    }

    private void Rollback(RolloutState s)
    {
        if (s.Canary is not null)
        {
            s.Canary = null;
            s.CanaryWeightPercent = 0;
        }
        else
        {
            // Revert a promotion: the previous stable serves again.
            (s.Stable, s.PreviousStable) = (s.PreviousStable, s.Stable);
            s.PromotedAt = null;
        }

        s.Phase = RolloutPhase.RolledBack;
    }

    private async Task<RolloutView> TransitionAsync(RolloutAction action, string actor, string reason, DriftVerdict? verdict, Action<RolloutState> change)
    {
        if (string.IsNullOrWhiteSpace(actor))
        {
            throw new ArgumentException("actor is required: say who or what makes this change.");
        }

        var s = state.State;
        var from = s.Phase;
        var before = Routing();
        change(s);
        var transition = new RolloutTransition(
            s.NextSequence++, clock.GetUtcNow(), action.ToWire(), actor, string.IsNullOrWhiteSpace(reason) ? "(no reason given)" : reason,
            from, s.Phase, s.Stable, s.Canary, s.CanaryWeightPercent, Evidence(verdict));
        s.History.Add(transition);
        var drop = Math.Max(0, s.History.Count - MaxHistory);
        var total = s.History.Sum(EstimatedChars);
        for (var i = 0; i < drop; i++)
        {
            total -= EstimatedChars(s.History[i]);
        }

        while (total > MaxHistoryChars && drop < s.History.Count - 1)
        {
            total -= EstimatedChars(s.History[drop]);
            drop++;
        }

        if (drop > 0)
        {
            s.History.RemoveRange(0, drop);
            s.Dropped += drop;
        }

        try
        {
            await state.WriteStateAsync();
        }
        catch
        {
            // Nothing happened unless it was stored: go back to the stored state before anything else runs.
            await RestoreStoredStateAsync();
            throw;
        }

        instruments.RolloutTransition(Model, transition.Action, s.Phase.ToString());
        Log.RolloutTransition(logger, Model, transition.Action, from.ToString(), s.Phase.ToString(), actor, transition.Reason);
        var routing = Routing();
        await notifier.TransitionedAsync(Model, transition, routing, s.Policy);
        if (actor == DriftWatcherActor)
        {
            await AuditAutomaticAsync(transition, before, routing);
        }

        return View();
    }

    /// <summary>
    /// Actions the controller takes on its own are audited here (those asked for over HTTP are audited by the API,
    /// with the caller's identity). The action already happened; a failed audit write is logged, not undone.
    /// </summary>
    private async Task AuditAutomaticAsync(RolloutTransition transition, RoutingTable before, RoutingTable after)
    {
        var record = new AuditRecord(
            0, transition.At, $"system:{DriftWatcherActor}", AuditTrail.SystemRoles, $"rollout.{transition.Action}", $"models/{Model}/rollout",
            AuditTrail.Snapshot(before), AuditTrail.Snapshot(after), null, transition.Reason, null);
        try
        {
            await GrainFactory.GetGrain<IAuditTrailGrain>(Model).AppendAsync(record);
        }
        catch (Exception ex)
        {
            Log.AuditFailed(logger, Model, record.Action, record.Principal, ex.Message);
        }
    }

    /// <summary>
    /// The verdict as kept in the history: its judged findings (worst first, at most <see cref="MaxVerdictDeltas"/>);
    /// the full verdict stays in the drift report. A many-class model's verdict would otherwise fill the state.
    /// </summary>
    internal static DriftVerdict? Evidence(DriftVerdict? verdict) =>
        verdict is null || verdict.ClassDeltas.Length <= MaxVerdictDeltas
            ? verdict
            : verdict with
            {
                ClassDeltas = [.. verdict.ClassDeltas
                    .Where(d => d.Sufficient)
                    .OrderByDescending(d => d.Severe)
                    .ThenByDescending(d => d.Significant)
                    .ThenByDescending(d => d.LowerBound ?? double.NegativeInfinity)
                    .Take(MaxVerdictDeltas)],
            };

    /// <summary>A transition's size as JSON, an upper estimate of its stored size.</summary>
    internal static int EstimatedChars(RolloutTransition t) =>
        256 + t.Action.Length + t.Actor.Length + t.Reason.Length + (t.Stable?.Length ?? 0) + (t.Canary?.Length ?? 0)
        + (t.Verdict is { } v ? 512 + v.Reason.Length + v.Reference.Length + v.Segment.Length + v.ClassDeltas.Sum(d => 320 + d.Class.Length) : 0);

    private async Task RestoreStoredStateAsync()
    {
        try
        {
            await state.ReadStateAsync();
        }
        catch
        {
            DeactivateOnIdle();
        }
    }

    private RoutingTable Routing() => new(Model, state.State.Stable, state.State.Canary, state.State.CanaryWeightPercent, state.State.Phase);

    private RolloutView View() =>
        new(Routing(), state.State.PreviousStable, state.State.PromotedAt, state.State.Policy, [.. state.State.History]);

    private static void Require(bool condition, string problem)
    {
        if (!condition)
        {
            throw new ConflictException(problem);
        }
    }

    private static void RequireName(string version)
    {
        if (!PredictionLimits.IsValidName(version))
        {
            throw new ArgumentException($"version must be 1..{PredictionLimits.MaxNameLength} characters without '/' or '='.");
        }
    }

    private static void RequireWeight(int weight)
    {
        if (weight is < 0 or > 100)
        {
            throw new ArgumentException($"weight must be a percentage between 0 and 100 (got {weight}).");
        }
    }
}
