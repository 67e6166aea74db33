using System.Collections.Immutable;

namespace ConfusionMatrix.Abstractions;

/// <summary>Where a model's rollout stands.</summary>
[GenerateSerializer, Alias("cm.RolloutPhase")]
public enum RolloutPhase
{
    /// <summary>No stable version yet.</summary>
    Empty = 0,

    /// <summary>Only the stable version serves.</summary>
    Stable = 1,

    /// <summary>A canary receives its traffic weight and is being compared with stable.</summary>
    Progressing = 2,

    /// <summary>The canary is held at zero traffic, by an operator or a drift verdict; resume or roll back.</summary>
    Paused = 3,

    /// <summary>The last change was undone: a canary abandoned, or a promotion reverted.</summary>
    RolledBack = 4,

    /// <summary>The canary became stable and is inside its guard period.</summary>
    Promoted = 5,
}

/// <summary>
/// The actions of the rollout state machine: the one vocabulary of transitions, HTTP routes (<c>POST …/rollout/{action}</c>),
/// audit history and webhooks.
/// </summary>
public static class RolloutActions
{
    public const string SetStable = "set-stable";
    public const string StartCanary = "start-canary";
    public const string SetWeight = "set-weight";
    public const string Promote = "promote";
    public const string Pause = "pause";
    public const string Resume = "resume";
    public const string Rollback = "rollback";
    public const string SetPolicy = "set-policy";

    /// <summary>What an operator can ask for over HTTP.</summary>
    public static readonly string[] Operations = [SetStable, StartCanary, SetWeight, Promote, Pause, Resume, Rollback];

    /// <summary>Transitions that change what the drift watcher compares: each starts a new monitoring epoch.</summary>
    public static bool StartsEpoch(string action) => action is StartCanary or Resume or Promote or Rollback or SetStable;
}

/// <summary>What inference services route by: which version gets which share of traffic.</summary>
[GenerateSerializer, Immutable, Alias("cm.RoutingTable")]
public sealed record RoutingTable(
    [property: Id(0)] string Model,
    [property: Id(1)] string? Stable,
    [property: Id(2)] string? Canary,
    [property: Id(3)] int CanaryWeightPercent,
    [property: Id(4)] RolloutPhase Phase)
{
    /// <summary>Picks a version for a request; <paramref name="draw"/> is uniform in [0, 100).</summary>
    public string? Choose(double draw) => Canary is not null && draw < CanaryWeightPercent ? Canary : Stable;
}

/// <summary>One audited change of rollout state: who or what made it, why, when, and the evidence.</summary>
[GenerateSerializer, Immutable, Alias("cm.RolloutTransition")]
public sealed record RolloutTransition(
    [property: Id(0)] long Sequence,
    [property: Id(1)] DateTimeOffset At,
    [property: Id(2)] string Action,
    [property: Id(3)] string Actor,
    [property: Id(4)] string Reason,
    [property: Id(5)] RolloutPhase From,
    [property: Id(6)] RolloutPhase To,
    [property: Id(7)] string? Stable,
    [property: Id(8)] string? Canary,
    [property: Id(9)] int CanaryWeightPercent,
    [property: Id(10)] DriftVerdict? Verdict);

/// <summary>
/// What the controller does on its own. Defaults: pause on drift, roll back on severe drift, one-hour guard. With
/// <see cref="DriftPauseKeepsWeight"/> a canary paused by the drift watcher keeps its traffic share (only promotion and
/// weight changes stop), so the evidence that would clear or confirm the drift keeps arriving.
/// </summary>
[GenerateSerializer, Immutable, Alias("cm.RolloutPolicy")]
public sealed record RolloutPolicy(
    [property: Id(0)] bool PauseCanaryOnDrift = true,
    [property: Id(1)] bool RollbackCanaryOnSevere = true,
    [property: Id(2)] bool RollbackPromotionOnDrift = true,
    [property: Id(3)] TimeSpan? GuardPeriod = null,
    ImmutableArray<string> Webhooks = default,
    [property: Id(5)] bool DriftPauseKeepsWeight = false)
{
    /// <summary>Receivers of a JSON POST on every transition; never default, so it serialises as a list.</summary>
    [Id(4)]
    public ImmutableArray<string> Webhooks { get; init; } = Webhooks.IsDefault ? [] : Webhooks;

    public static readonly TimeSpan DefaultGuardPeriod = TimeSpan.FromHours(1);

    public TimeSpan EffectiveGuardPeriod => GuardPeriod ?? DefaultGuardPeriod;

    /// <summary>The HMAC-SHA256 key every webhook body is signed with; required with webhooks. Reads show <see cref="RedactedSecret"/>.</summary>
    [Id(6)]
    public string? WebhookSecret { get; init; }

    /// <summary>What the API shows instead of the secret; sending it back keeps the stored secret.</summary>
    public const string RedactedSecret = "********";

    /// <summary>The policy as shown to readers: the secret replaced by <see cref="RedactedSecret"/>.</summary>
    public RolloutPolicy Redacted() => WebhookSecret is null ? this : this with { WebhookSecret = RedactedSecret };

    public string? Validate()
    {
        if (GuardPeriod is { } g && (g < TimeSpan.Zero || g > TimeSpan.FromDays(30)))
        {
            return "guardPeriod must be between 0 and 30 days.";
        }

        if (Webhooks.Length > 0 && (WebhookSecret is null || WebhookSecret.Length < 16))
        {
            return "webhookSecret (at least 16 characters) is required with webhooks: every body is signed with it.";
        }

        foreach (var hook in Webhooks)
        {
            if (!Uri.TryCreate(hook, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
            {
                return $"webhook '{hook}' must be an absolute http or https URL.";
            }
        }

        return null;
    }
}

/// <summary>A rollout's full state as read.</summary>
[GenerateSerializer, Immutable, Alias("cm.RolloutView")]
public sealed record RolloutView(
    [property: Id(0)] RoutingTable Routing,
    [property: Id(1)] string? PreviousStable,
    [property: Id(2)] DateTimeOffset? PromotedAt,
    [property: Id(3)] RolloutPolicy Policy,
    [property: Id(4)] ImmutableArray<RolloutTransition> History);

/// <summary>The rollout of one model, keyed by model name: a state machine over stable, canary and canary weight.</summary>
[Alias("cm.IRolloutControllerGrain")]
public interface IRolloutControllerGrain : IGrainWithStringKey
{
    [Alias("GetRouting")]
    ValueTask<RoutingTable> GetRoutingAsync();

    [Alias("GetState")]
    ValueTask<RolloutView> GetStateAsync();

    [Alias("SetStable")]
    Task<RolloutView> SetStableAsync(string version, string actor, string reason);

    [Alias("StartCanary")]
    Task<RolloutView> StartCanaryAsync(string version, int weightPercent, string actor, string reason);

    [Alias("SetWeight")]
    Task<RolloutView> SetWeightAsync(int weightPercent, string actor, string reason);

    [Alias("Promote")]
    Task<RolloutView> PromoteAsync(string actor, string reason);

    [Alias("Pause")]
    Task<RolloutView> PauseAsync(string actor, string reason);

    [Alias("Resume")]
    Task<RolloutView> ResumeAsync(string actor, string reason);

    [Alias("Rollback")]
    Task<RolloutView> RollbackAsync(string actor, string reason);

    [Alias("SetPolicy")]
    Task<RolloutView> SetPolicyAsync(RolloutPolicy policy, string actor);

    /// <summary>
    /// Called by the drift watcher with every drift or severe verdict; acts per policy. Calls go one way: the
    /// controller never calls the watcher, which reads the transitions (<see cref="RolloutView.History"/>) itself.
    /// </summary>
    [Alias("OnVerdict")]
    Task OnVerdictAsync(DriftVerdict verdict);
}
