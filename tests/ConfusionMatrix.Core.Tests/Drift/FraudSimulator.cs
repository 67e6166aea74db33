namespace ConfusionMatrix.Core.Tests.Drift;

/// <summary>
/// A binary fraud model (class 0 = legit, class 1 = fraud) drawn with a seeded <see cref="Random"/>. Counts per batch
/// are exact binomial draws by inverse CDF, so a batch of n predictions costs O(n p) instead of n Bernoulli draws.
/// </summary>
internal sealed record FraudModel(double Prevalence, double Recall, double FalsePositiveRate)
{
    /// <summary>Model with the given recall and precision at the given prevalence: FPR = prev * recall * (1/precision - 1) / (1 - prev).</summary>
    public static FraudModel FromRecallAndPrecision(double prevalence, double recall, double precision) =>
        new(prevalence, recall, prevalence * recall * ((1 / precision) - 1) / (1 - prevalence));

    public void Draw(Random random, ConfusionCounts into, long predictions)
    {
        var positives = Binomial.Sample(random, predictions, Prevalence);
        var truePositives = Binomial.Sample(random, positives, Recall);
        var negatives = predictions - positives;
        var falsePositives = Binomial.Sample(random, negatives, FalsePositiveRate);
        into.Add(1, 1, truePositives);
        into.Add(1, 0, positives - truePositives);
        into.Add(0, 1, falsePositives);
        into.Add(0, 0, negatives - falsePositives);
    }
}

internal static class Binomial
{
    private const int Chunk = 500;

    /// <summary>Exact Binomial(n, p) draw: inverse CDF on chunks of at most 500 trials with p &lt;= 0.5, so (1-p)^500 never underflows.</summary>
    public static long Sample(Random random, long trials, double probability)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(trials);
        if (probability <= 0 || trials == 0)
        {
            return 0;
        }

        if (probability >= 1)
        {
            return trials;
        }

        if (probability > 0.5)
        {
            return trials - Sample(random, trials, 1 - probability);
        }

        long total = 0;
        for (var remaining = trials; remaining > 0; remaining -= Chunk)
        {
            total += InverseCdf(random, (int)Math.Min(remaining, Chunk), probability);
        }

        return total;
    }

    private static int InverseCdf(Random random, int trials, double probability)
    {
        var u = random.NextDouble();
        var pmf = Math.Pow(1 - probability, trials);
        var cdf = pmf;
        var ratio = probability / (1 - probability);
        var k = 0;
        while (u > cdf && k < trials)
        {
            pmf *= (trials - k) * ratio / (k + 1);
            k++;
            cdf += pmf;
        }

        return k;
    }
}
