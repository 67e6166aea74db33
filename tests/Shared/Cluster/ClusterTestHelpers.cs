using ConfusionMatrix.Abstractions;

namespace ConfusionMatrix.Tests.Shared;

public static class ClusterTestHelpers
{
    private static int _models;

    /// <summary>A model name no other test in the shared cluster uses.</summary>
    public static string UniqueModel(string stem) => $"{stem}-{Interlocked.Increment(ref _models)}";

    public static Task<ModelDefinition> RegisterAsync(IGrainFactory grains, string model, IEnumerable<string> classes, params string[] dimensions) =>
        grains.GetGrain<IModelRegistryGrain>(model).RegisterAsync(
            new ModelDefinition(model, [.. classes], null, [.. dimensions], ClusterFixture.Time.GetUtcNow()));

    public static Task PublishAsync(IClusterClient client, PredictionBatch batch) =>
        client.GetStreamProvider(PredictionLog.StreamProvider)
            .GetStream<PredictionBatch>(StreamId.Create(PredictionLog.StreamNamespace, PredictionLog.VersionKey(batch.Model, batch.Version)))
            .OnNextAsync(batch);

    /// <summary>Polls a segment until its all-time total reaches the expected value, or fails after the deadline.</summary>
    public static async Task<MatrixView> WaitForTotalAsync(IGrainFactory grains, string model, string version, string segment, long expected, TimeSpan? deadline = null)
    {
        var grain = grains.GetGrain<ISegmentMatrixGrain>(Segments.MatrixKey(model, version, segment));
        var view = await Eventually.MatchesAsync(
            async () => await grain.GetMatrixAsync(null),
            v => v.Matrix.Total >= expected,
            $"{segment} reaching a total of {expected}",
            deadline,
            describe: v => $"total {v.Matrix.Total}");
        Assert.Equal(expected, view.Matrix.Total);
        return view;
    }

    public static long[][] Rows(SparseMatrix m, int k) => m.ClassCount == 0 ? Enumerable.Range(0, k).Select(_ => new long[k]).ToArray() : m.ToRows();
}
