namespace ConfusionMatrix.Core.Tests.Drift;

public sealed class BinomialSamplerTests
{
    [Theory]
    [InlineData(500, 0.05)]
    [InlineData(1200, 0.9)]
    [InlineData(37, 0.5)]
    public void Sample_HasTheBinomialMeanAndVariance(long trials, double p)
    {
        var random = new Random(3);
        const int draws = 20000;
        double sum = 0, sumSquares = 0;
        for (var i = 0; i < draws; i++)
        {
            var x = Binomial.Sample(random, trials, p);
            Assert.InRange(x, 0, trials);
            sum += x;
            sumSquares += (double)x * x;
        }

        var mean = sum / draws;
        var variance = (sumSquares / draws) - (mean * mean);
        var expectedVariance = trials * p * (1 - p);
        // Mean within 5 standard errors; variance within 5%.
        Assert.InRange(mean, (trials * p) - (5 * Math.Sqrt(expectedVariance / draws)), (trials * p) + (5 * Math.Sqrt(expectedVariance / draws)));
        Assert.InRange(variance, 0.95 * expectedVariance, 1.05 * expectedVariance);
    }
}
