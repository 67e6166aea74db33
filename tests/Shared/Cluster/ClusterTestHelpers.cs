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

    /// <summary>What Orleans' Azure Table grain storage accepts for one grain's state (the silo's own constant).</summary>
    public const int AzureTableStateLimit = ConfusionMatrix.Grains.DriftWatcherOptions.AzureTableStateLimit;

    /// <summary>
    /// The bytes a grain's memory storage holds for one of its persistent states (<paramref name="stateName"/> as in
    /// <c>[PersistentState]</c>): written by the silo's grain-storage serializer, as Azure Table or Blob storage would
    /// receive them.
    /// </summary>
    public static async Task<ReadOnlyMemory<byte>> StoredStateAsync(IGrainFactory grains, string stateName, GrainId grain)
    {
        var key = $"{stateName}/{grain}";
        for (var i = 0; i < Orleans.Configuration.MemoryGrainStorageOptions.NumStorageGrainsDefaultValue; i++)
        {
            var held = await grains.GetGrain<Orleans.Storage.IMemoryStorageGrain>(i).ReadStateAsync<ReadOnlyMemory<byte>>(key);
            if (held?.State is { Length: > 0 } stored)
            {
                return stored;
            }
        }

        throw new Xunit.Sdk.XunitException($"no stored state under {key}");
    }

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
