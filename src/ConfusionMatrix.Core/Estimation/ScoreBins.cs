namespace ConfusionMatrix.Core.Estimation;

/// <summary>
/// Equal-width bins over a score in [0, 1] (the model's probability of the positive class). Twenty bins keep the
/// calibration table small enough to travel in one grain call per shard while a bin's mean score stays within 0.05
/// of any score in it.
/// </summary>
public static class ScoreBins
{
    public const int Count = 20;

    public static int Of(double score)
    {
        if (!(score >= 0))
        {
            return 0;
        }

        var bin = (int)(score * Count);
        return bin >= Count ? Count - 1 : bin;
    }

    public static double LowerEdge(int bin) => (double)bin / Count;
}
