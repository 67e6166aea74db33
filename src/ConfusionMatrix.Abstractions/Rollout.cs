using System.Collections.Immutable;
using System.Text.Json.Serialization;

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
/// The actions of the rollout state machine: the one vocabulary of transitions, HTTP routes (<c>POST …/rollout/set-stable</c>
/// and the others), audit history and webhooks. On the wire (JSON, and <see cref="RolloutTransition.Action"/>, which
/// stays a string so that silos of the previous release read new transitions) each is its kebab-case word.
/// </summary>
[GenerateSerializer, Alias("cm.RolloutAction")]
[JsonConverter(typeof(JsonStringEnumConverter<RolloutAction>))]
public enum RolloutAction
{
    [JsonStringEnumMemberName(RolloutActions.SetStable)] SetStable = 0,
    [JsonStringEnumMemberName(RolloutActions.StartCanary)] StartCanary = 1,
    [JsonStringEnumMemberName(RolloutActions.SetWeight)] SetWeight = 2,
    [JsonStringEnumMemberName(RolloutActions.Promote)] Promote = 3,
    [JsonStringEnumMemberName(RolloutActions.Pause)] Pause = 4,
    [JsonStringEnumMemberName(RolloutActions.Resume)] Resume = 5,
    [JsonStringEnumMemberName(RolloutActions.Rollback)] Rollback = 6,
    [JsonStringEnumMemberName(RolloutActions.SetPolicy)] SetPolicy = 7,
}

/// <summary>The wire words of <see cref="RolloutAction"/> and what each action implies.</summary>
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

    /// <summary>What an operator can ask for over HTTP, each at <c>POST …/rollout/{word}</c>.</summary>
    public static readonly RolloutAction[] Operations =
        [RolloutAction.SetStable, RolloutAction.StartCanary, RolloutAction.SetWeight, RolloutAction.Promote, RolloutAction.Pause, RolloutAction.Resume, RolloutAction.Rollback];

    public static string ToWire(this RolloutAction action) => action switch
    {
        RolloutAction.SetStable => SetStable,
        RolloutAction.StartCanary => StartCanary,
        RolloutAction.SetWeight => SetWeight,
        RolloutAction.Promote => Promote,
        RolloutAction.Pause => Pause,
        RolloutAction.Resume => Resume,
        RolloutAction.Rollback => Rollback,
        RolloutAction.SetPolicy => SetPolicy,
        _ => throw new ArgumentOutOfRangeException(nameof(action), action, "Unknown rollout action."),
    };

    /// <summary>Reads a wire word; false for anything else.</summary>
    public static bool TryParse(string? word, out RolloutAction action)
    {
        RolloutAction? parsed = word switch
        {
            SetStable => RolloutAction.SetStable,
            StartCanary => RolloutAction.StartCanary,
            SetWeight => RolloutAction.SetWeight,
            Promote => RolloutAction.Promote,
            Pause => RolloutAction.Pause,
            Resume => RolloutAction.Resume,
            Rollback => RolloutAction.Rollback,
            SetPolicy => RolloutAction.SetPolicy,
            _ => null,
        };
        action = parsed.GetValueOrDefault();
        return parsed is not null;
    }

    /// <summary>Transitions that change what the drift watcher compares: each starts a new monitoring epoch.</summary>
    public static bool StartsEpoch(this RolloutAction action) =>
        action is RolloutAction.StartCanary or RolloutAction.Resume or RolloutAction.Promote or RolloutAction.Rollback or RolloutAction.SetStable;
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
    [property: Id(10)] DriftVerdict? Verdict)
{
    /// <summary>The action as its enum; null for a word this release does not know (written by a newer silo).</summary>
    [JsonIgnore]
    public RolloutAction? Kind => RolloutActions.TryParse(Action, out var kind) ? kind : null;
}

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

/// <summary>
/// A page of rollout transitions, oldest first; <see cref="Next"/> is the <c>after</c> of the next page, null at the
/// end; <see cref="Dropped"/> counts transitions the bounds removed (they remain in the audit trail and the logs).
/// </summary>
[GenerateSerializer, Immutable, Alias("cm.RolloutHistoryPage")]
public sealed record RolloutHistoryPage(
    [property: Id(0)] ImmutableArray<RolloutTransition> Transitions,
    [property: Id(1)] long? Next,
    [property: Id(2)] long Dropped);

/// <summary>The rollout of one model, keyed by model name: a state machine over stable, canary and canary weight.</summary>
[Alias("cm.IRolloutControllerGrain")]
public interface IRolloutControllerGrain : IGrainWithStringKey
{
    [Alias("GetRouting"), Orleans.Concurrency.ReadOnly]
    ValueTask<RoutingTable> GetRoutingAsync();

    /// <summary>State, policy and the kept history (bounded: see <see cref="GetHistoryAsync"/>).</summary>
    [Alias("GetState"), Orleans.Concurrency.ReadOnly]
    ValueTask<RolloutView> GetStateAsync();

    /// <summary>Kept transitions with a sequence above <paramref name="after"/>, oldest first, at most <paramref name="limit"/>.</summary>
    [Alias("GetHistory"), Orleans.Concurrency.ReadOnly]
    ValueTask<RolloutHistoryPage> GetHistoryAsync(long? after, int limit);

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
