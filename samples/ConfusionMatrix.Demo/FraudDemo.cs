using ConfusionMatrix.Abstractions;
using ConfusionMatrix.Silo.Api;

namespace ConfusionMatrix.Demo;

/// <summary>
/// The seed story, live: a fraud model's canary loses 15% of its fraud recall on region=EU during a holiday. Traffic is
/// routed by the rollout controller's weights, as an inference service would route it, and the drift watcher pauses the
/// canary. Started with <c>--demo</c> (the default).
/// </summary>
public sealed partial class FraudDemo(IClusterClient client, PredictionPublisher publisher, ILogger<FraudDemo> logger) : BackgroundService
{
    public const string Model = "fraud-demo";
    private const double Prevalence = 0.04;
    private const double StableRecall = 0.92;
    private const double HolidayEuRecall = StableRecall * 0.85;
    private const int PredictionsPerTick = 2000;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await DemoCluster.WaitUntilAvailableAsync(client, stoppingToken);
        await client.GetGrain<IModelRegistryGrain>(Model).RegisterAsync(
            new ModelDefinition(Model, ["legit", "fraud"], "fraud", ["region", "channel"], DateTimeOffset.UtcNow));
        var watcher = client.GetGrain<IDriftWatcherGrain>(Model);
        await watcher.SetPolicyAsync(new DriftPolicySettings(EvaluationInterval: TimeSpan.FromSeconds(2)));
        var rollout = client.GetGrain<IRolloutControllerGrain>(Model);

        // The story's drop (0.92 to 0.78) sits near the severe threshold (0.15); the demo holds the canary for
        // inspection instead of rolling it back, whichever side of the threshold the sampled drop falls.
        await rollout.SetPolicyAsync(new RolloutPolicy(PauseCanaryOnDrift: true, RollbackCanaryOnSevere: false), "demo");
        var state = await rollout.GetStateAsync();
        if (state.Routing.Stable is null)
        {
            await rollout.SetStableAsync("v1", "demo", "initial release");
        }

        if (state.Routing.Canary is null)
        {
            await rollout.StartCanaryAsync("v2", 30, "demo", "holiday-season model");
        }

        LogStarted(logger, Model);
        var random = new Random(7);
        long sent = 0;
        var lastPhase = RolloutPhase.Empty;
        using var tick = new PeriodicTimer(TimeSpan.FromMilliseconds(100));
        while (await tick.WaitForNextTickAsync(stoppingToken))
        {
            var routing = await rollout.GetRoutingAsync();
            var stable = new PredictionBatchBuilder(Model, routing.Stable ?? "v1");
            var canary = routing.Canary is { } c ? new PredictionBatchBuilder(Model, c) : null;
            var now = DateTimeOffset.UtcNow;
            for (var i = 0; i < PredictionsPerTick; i++)
            {
                var toCanary = canary is not null && routing.Choose(random.NextDouble() * 100) == routing.Canary;
                var eu = random.NextDouble() < 0.5;
                var fraud = random.NextDouble() < Prevalence;
                var recall = toCanary && eu ? HolidayEuRecall : StableRecall;
                var flagged = fraud ? random.NextDouble() < recall : random.NextDouble() < 0.01;
                (toCanary ? canary! : stable).Add(fraud ? "fraud" : "legit", flagged ? "fraud" : "legit", now,
                    [new("region", eu ? "EU" : "US"), new("channel", random.NextDouble() < 0.6 ? "web" : "app")]);
            }

            foreach (var builder in canary is null ? [stable] : new[] { stable, canary })
            {
                if (builder.Count > 0)
                {
                    await publisher.PublishAsync(builder);
                }
            }

            sent += PredictionsPerTick;
            if (routing.Phase != lastPhase || sent % 100_000 == 0)
            {
                lastPhase = routing.Phase;
                var last = (await rollout.GetStateAsync()).History.LastOrDefault();
                LogProgress(logger, sent, routing.Phase.ToString(), routing.CanaryWeightPercent, last is null ? "-" : $"{last.Action} by {last.Actor}: {last.Reason}");
            }
        }
    }

    [LoggerMessage(EventId = 2101, Level = LogLevel.Warning, Message = "Demo: model {Model} registered, stable v1, canary v2 at 30%; v2 loses 15% of its fraud recall on region=EU. Watch /api/v1/models/fraud-demo/rollout, /api/v1/models/fraud-demo/drift, /dashboard/ and /metrics")]
    private static partial void LogStarted(ILogger logger, string model);

    [LoggerMessage(EventId = 2102, Level = LogLevel.Warning, Message = "Demo: {Sent} predictions sent; rollout {Phase}, canary weight {Weight}%; last transition: {Last}")]
    private static partial void LogProgress(ILogger logger, long sent, string phase, int weight, string last);
}
