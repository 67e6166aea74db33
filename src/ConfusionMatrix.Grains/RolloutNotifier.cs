using ConfusionMatrix.Abstractions;

namespace ConfusionMatrix.Grains;

/// <summary>Tells systems outside the cluster that a rollout changed (webhooks). The drift watcher reads transitions itself.</summary>
public interface IRolloutNotifier
{
    Task TransitionedAsync(string model, RolloutTransition transition, RoutingTable routing, RolloutPolicy policy);
}

/// <summary>Hands the event to the webhook sender; never calls back into the drift watcher.</summary>
public sealed class RolloutNotifier(IWebhookSender webhooks) : IRolloutNotifier
{
    public Task TransitionedAsync(string model, RolloutTransition transition, RoutingTable routing, RolloutPolicy policy)
    {
        webhooks.Enqueue(new RolloutWebhookEvent(model, transition, routing), policy.Webhooks, policy.WebhookSecret);
        return Task.CompletedTask;
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
