using ConfusionMatrix.Abstractions;
using ConfusionMatrix.Silo.Api;

namespace ConfusionMatrix.Demo;

/// <summary>
/// Late labels, live (<c>--demo-late-labels</c>): fraud predictions are logged without their label, and labels come
/// the way they do in payments, on a compressed clock: flagged fraud is confirmed within a minute, reviewed false
/// alarms within two, missed fraud only with the chargeback after six minutes, and legitimate traffic is confirmed
/// when no chargeback came by then. Early on, the realised matrix holds mostly confirmed fraud and its recall looks
/// near perfect; the estimate from scores and the label-free early warning tell the truth from the first minute.
/// Version v2 raises its flagging threshold on region=EU (the holiday failure), so it misses more EU fraud.
/// </summary>
public sealed partial class LateLabelDemo(IClusterClient client, PredictionPublisher publisher, ILogger<LateLabelDemo> logger) : BackgroundService
{
    public const string Model = "fraud-late";
    private const int PredictionsPerTick = 50;
    private const double Prevalence = 0.04;
    private const double Separation = 3.5;
    private static readonly TimeSpan ConfirmedFraudDelay = TimeSpan.FromSeconds(40);
    private static readonly TimeSpan ReviewedAlarmDelay = TimeSpan.FromMinutes(2);
    private static readonly TimeSpan ChargebackDelay = TimeSpan.FromMinutes(6);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await DemoCluster.WaitUntilAvailableAsync(client, stoppingToken);

        // Labels are all in after six minutes; twenty minutes of time to live keeps memory small while they come.
        await client.GetGrain<IModelRegistryGrain>(Model).RegisterAsync(
            new ModelDefinition(Model, ["legit", "fraud"], "fraud", ["region"], DateTimeOffset.UtcNow, TimeSpan.FromMinutes(20), TimeSpan.FromMinutes(1)));
        LogStarted(logger, Model);

        var random = new Random(11);
        var due = new PriorityQueue<(string Id, string Actual, DateTimeOffset LabelTime), DateTimeOffset>();
        var router = client.GetGrain<ILabelRouterGrain>(Model);
        long sent = 0, next = 0;
        using var tick = new PeriodicTimer(TimeSpan.FromMilliseconds(100));
        while (await tick.WaitForNextTickAsync(stoppingToken))
        {
            var now = DateTimeOffset.UtcNow;
            var builders = new[] { new PredictionBatchBuilder(Model, "v1"), new PredictionBatchBuilder(Model, "v2") };
            for (var i = 0; i < PredictionsPerTick; i++)
            {
                // 4% fraud; the model sees a signal N(0, 1) for legit and N(3.5, 1) for fraud, and its score is the
                // exact posterior P(fraud | signal), so it is calibrated. Flagging at 0.25 gives recall about 0.88;
                // v2 flags EU traffic only from 0.55, which brings its EU recall to about 0.78.
                var fraud = random.NextDouble() < Prevalence;
                var signal = Normal(random) + (fraud ? Separation : 0);
                var score = 1 / (1 + Math.Exp(-(Math.Log(Prevalence / (1 - Prevalence)) + (Separation * signal) - (Separation * Separation / 2))));
                var eu = random.NextDouble() < 0.5;
                var version = random.Next(2);
                var threshold = version == 1 && eu ? 0.55 : 0.25;
                var flagged = score >= threshold;
                var id = $"late-{next++}";
                builders[version].Add(null, flagged ? "fraud" : "legit", now, [new("region", eu ? "EU" : "US")], id, score);
                var delay = (fraud, flagged) switch
                {
                    (true, true) => ConfirmedFraudDelay,
                    (false, true) => ReviewedAlarmDelay,
                    _ => ChargebackDelay,
                };
                var labelTime = now + (delay * (0.5 + random.NextDouble()));
                due.Enqueue((id, fraud ? "fraud" : "legit", labelTime), labelTime);
            }

            foreach (var builder in builders.Where(b => b.Count > 0))
            {
                await publisher.PublishAsync(builder);
            }

            sent += PredictionsPerTick;
            var labels = new LabelBatchBuilder(Model);
            while (due.TryPeek(out var label, out var at) && at <= now)
            {
                due.Dequeue();
                labels.Add(label.Id, label.Actual, label.LabelTime, label.Actual == "fraud" ? "chargeback-or-review" : "review");
            }

            if (labels.Count > 0)
            {
                await router.IngestAsync(labels.Build());
            }

            if (sent % 30_000 == 0)
            {
                LogProgress(logger, sent, due.Count);
            }
        }
    }

    private static double Normal(Random random) =>
        Math.Sqrt(-2 * Math.Log(1.0 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());

    [LoggerMessage(EventId = 2103, Level = LogLevel.Warning, Message = "Demo: model {Model} registered; predictions arrive without labels, fraud is confirmed within a minute, missed fraud after six. Compare /api/v1/models/fraud-late/versions/v2/segments/region%3DEU/matrix with …/estimate, and /api/v1/models/fraud-late/early-warning?canary=v2&stable=v1&segment=region%3DEU")]
    private static partial void LogStarted(ILogger logger, string model);

    [LoggerMessage(EventId = 2104, Level = LogLevel.Warning, Message = "Demo: {Sent} predictions sent, {Waiting} labels still to come")]
    private static partial void LogProgress(ILogger logger, long sent, int waiting);
}
