using ConfusionMatrix.Abstractions;

namespace ConfusionMatrix.Grains;

/// <summary>Tells the rest of the system that a rollout changed: the drift watcher starts a new epoch, webhooks fire.</summary>
public interface IRolloutNotifier
{
    Task TransitionedAsync(string model, RolloutTransition transition, RoutingTable routing, RolloutPolicy policy);
}

/// <summary>Restarts the drift watcher's epoch (it runs in the cluster) and hands the event to the webhook sender.</summary>
public sealed class RolloutNotifier(IGrainFactory grains, IWebhookSender webhooks) : IRolloutNotifier
{
    public async Task TransitionedAsync(string model, RolloutTransition transition, RoutingTable routing, RolloutPolicy policy)
    {
        if (transition.Action is "start-canary" or "resume" or "promote" or "rollback" or "set-stable")
        {
            await grains.GetGrain<IDriftWatcherGrain>(model).StartEpochAsync($"{transition.Action} by {transition.Actor}");
        }

        webhooks.Enqueue(new RolloutWebhookEvent(model, transition, routing), policy.Webhooks, policy.WebhookSecret);
    }
}

/// <summary>The JSON body of a rollout webhook.</summary>
public sealed record RolloutWebhookEvent(string Model, RolloutTransition Transition, RoutingTable Routing)
{
    public string Type => "rollout.transition";
}

/// <summary>Delivers webhook events in the background, with retries; never blocks a grain.</summary>
public interface IWebhookSender
{
    /// <summary>Queues one signed delivery per URL; without a secret nothing is sent (counted as dropped).</summary>
    void Enqueue(RolloutWebhookEvent evt, IReadOnlyList<string> urls, string? secret);
}
