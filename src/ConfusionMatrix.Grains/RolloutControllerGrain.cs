using System.Collections.Immutable;
using ConfusionMatrix.Abstractions;
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
    /// <summary>Audit entries kept per model; older ones are in the logs and webhook receivers.</summary>
    internal const int MaxHistory = 1000;

    public const string DriftWatcherActor = "drift-watcher";

    private string Model => this.GetPrimaryKeyString();

    public ValueTask<RoutingTable> GetRoutingAsync() => ValueTask.FromResult(Routing());

    public ValueTask<RolloutView> GetStateAsync() => ValueTask.FromResult(View());

    public Task<RolloutView> SetStableAsync(string version, string actor, string reason)
    {
        RequireName(version);
        Require(state.State.Canary is null, "a canary is in progress; promote it or roll it back first");
        return TransitionAsync(RolloutActions.SetStable, actor, reason, null, s =>
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
        return TransitionAsync(RolloutActions.StartCanary, actor, reason, null, s =>
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
        return TransitionAsync(RolloutActions.SetWeight, actor, reason, null, s => s.CanaryWeightPercent = weightPercent);
    }

    public Task<RolloutView> PromoteAsync(string actor, string reason)
    {
        Require(state.State.Phase is RolloutPhase.Progressing or RolloutPhase.Paused, $"there is no canary to promote (phase is {state.State.Phase})");
        return TransitionAsync(RolloutActions.Promote, actor, reason, null, s =>
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
        return TransitionAsync(RolloutActions.Pause, actor, reason, null, Pause);
    }

    public Task<RolloutView> ResumeAsync(string actor, string reason)
    {
        Require(state.State.Phase == RolloutPhase.Paused, $"only a paused canary can be resumed (phase is {state.State.Phase})");
        return TransitionAsync(RolloutActions.Resume, actor, reason, null, s =>
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
        return TransitionAsync(RolloutActions.Rollback, actor, reason, null, Rollback);
    }

    public Task<RolloutView> SetPolicyAsync(RolloutPolicy policy, string actor)
    {
        var problem = policy.Validate();
        if (problem is not null)
        {
            throw new ArgumentException(problem);
        }

        return TransitionAsync(RolloutActions.SetPolicy, actor, "rollout policy changed", null, s => s.Policy = policy);
    }

    public async Task OnVerdictAsync(DriftVerdict verdict)
    {
        if (!verdict.IsAlarm)
        {
            return;
        }

        var s = state.State;
        var policy = s.Policy;
        var severe = verdict.Decision == DriftVerdict.Severe;
        var why = $"{verdict.Decision} on {verdict.Version}/{verdict.Segment} vs {verdict.Reference}: {verdict.Reason}";
        if (verdict.Version == s.Canary)
        {
            if (severe && policy.RollbackCanaryOnSevere)
            {
                await TransitionAsync(RolloutActions.Rollback, DriftWatcherActor, why, verdict, Rollback);
            }
            else if (s.Phase == RolloutPhase.Progressing && policy.PauseCanaryOnDrift)
            {
                await TransitionAsync(RolloutActions.Pause, DriftWatcherActor, why, verdict, policy.DriftPauseKeepsWeight ? PauseKeepingWeight : Pause);
            }
        }
        else if (verdict.Version == s.Stable
            && s.Phase == RolloutPhase.Promoted
            && s.PreviousStable is not null
            && s.PromotedAt is { } promotedAt
            && clock.GetUtcNow() - promotedAt <= policy.EffectiveGuardPeriod
            && policy.RollbackPromotionOnDrift)
        {
            await TransitionAsync(RolloutActions.Rollback, DriftWatcherActor, $"within the {policy.EffectiveGuardPeriod} guard period after promotion, {why}", verdict, Rollback);
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

    private async Task<RolloutView> TransitionAsync(string action, string actor, string reason, DriftVerdict? verdict, Action<RolloutState> change)
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
            s.NextSequence++, clock.GetUtcNow(), action, actor, string.IsNullOrWhiteSpace(reason) ? "(no reason given)" : reason,
            from, s.Phase, s.Stable, s.Canary, s.CanaryWeightPercent, verdict);
        s.History.Add(transition);
        if (s.History.Count > MaxHistory)
        {
            s.History.RemoveRange(0, s.History.Count - MaxHistory);
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

        instruments.RolloutTransition(Model, action, s.Phase.ToString());
        Log.RolloutTransition(logger, Model, action, from.ToString(), s.Phase.ToString(), actor, transition.Reason);
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
            throw new InvalidOperationException(problem);
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
