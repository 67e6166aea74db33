using ConfusionMatrix.Abstractions;

namespace ConfusionMatrix.Grains.Tests;

/// <summary>
/// Seeded synthetic traffic of a binary fraud model over two regions: each prediction is fraud with probability
/// <see cref="Prevalence"/>, caught with the region's recall, and a legit one is flagged with <see cref="FalsePositiveRate"/>.
/// </summary>
internal sealed record FraudTraffic(double Prevalence, double RecallEu, double RecallUs, double FalsePositiveRate = 0.01)
{
    public static readonly string[] Classes = ["legit", "fraud"];

    public async Task SendAsync(IGrainFactory grains, string model, string version, int count, int seed)
    {
        var random = new Random(seed);
        var router = grains.GetGrain<IVersionRouterGrain>(PredictionLog.VersionKey(model, version));
        var now = ClusterFixture.Time.GetUtcNow();
        var builder = new PredictionBatchBuilder(model, version);
        long sequence = 0;
        for (var i = 0; i < count; i++)
        {
            var eu = random.NextDouble() < 0.5;
            var fraud = random.NextDouble() < Prevalence;
            var flagged = fraud ? random.NextDouble() < (eu ? RecallEu : RecallUs) : random.NextDouble() < FalsePositiveRate;
            builder.Add(fraud ? "fraud" : "legit", flagged ? "fraud" : "legit", now, [new("region", eu ? "EU" : "US")]);
            if (builder.Count == 2000 || i == count - 1)
            {
                var result = await router.IngestAsync(builder.Build($"{version}-{seed}", ++sequence));
                Assert.Equal(builder.Count, result.Accepted);
                builder.Clear();
            }
        }
    }
}
