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
        var until = DateTime.UtcNow + (deadline ?? TimeSpan.FromSeconds(30));
        while (true)
        {
            var view = await grain.GetMatrixAsync(null);
            if (view.Matrix.Total >= expected || DateTime.UtcNow > until)
            {
                Assert.True(view.Matrix.Total == expected, $"{segment}: expected total {expected}, got {view.Matrix.Total}");
                return view;
            }

            await Task.Delay(50);
        }
    }

    public static long[][] Rows(SparseMatrix m, int k) => m.ClassCount == 0 ? Enumerable.Range(0, k).Select(_ => new long[k]).ToArray() : m.ToRows();
}
