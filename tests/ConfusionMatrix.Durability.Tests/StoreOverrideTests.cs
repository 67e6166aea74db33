using Azure.Data.Tables;
using Azure.Storage.Blobs;
using ConfusionMatrix.Abstractions;
using ConfusionMatrix.Silo.Configuration;
using Orleans.Configuration;
using Orleans.TestingHost;

namespace ConfusionMatrix.Durability.Tests;

/// <summary>
/// <c>Storage:Stores:control=AzureBlob</c> on top of <c>Storage:Provider=AzureTable</c>: the drift watcher and the
/// rollout controller write blobs (no 1 MB entity limit), the segment matrices keep writing table entities. Looked up
/// with the Azure SDK in Azurite, under the names Orleans' providers give them.
/// </summary>
[Collection(DurabilityCollection.Name)]
public sealed class StoreOverrideTests(AzuriteFixture fixture)
{
    [Fact]
    public async Task ControlStoreOnBlobs_DriftAndRolloutStateAreBlobs_MatricesAreTableEntities()
    {
        var serviceId = $"stores{Guid.NewGuid():N}"[..20];
        var model = $"blobcontrol-{Guid.NewGuid():N}"[..24];
        var cluster = await DurableCluster.StartAsync(fixture.Azurite, serviceId, silos: 1, controlStore: StorageProvider.AzureBlob);
        try
        {
            await Producer.RegisterAsync(cluster.Client, model);
            var router = cluster.Client.GetGrain<IVersionRouterGrain>(PredictionLog.VersionKey(model, "v1"));
            var batch = new Producer(cluster.Client, model, "v1", "producer-a").Next(size: 200, seed: 1);
            Assert.Equal(200, (await router.IngestAsync(batch)).Accepted);

            var rollout = cluster.Client.GetGrain<IRolloutControllerGrain>(model);
            var watcher = cluster.Client.GetGrain<IDriftWatcherGrain>(model);
            await rollout.SetStableAsync("v1", "operator:alice", "first release");
            var report = await watcher.EvaluateNowAsync();
            Assert.NotEmpty(report.Verdicts);

            var segment = cluster.Client.GetGrain<ISegmentMatrixGrain>(Segments.MatrixKey(model, "v1", Segments.All));
            Assert.Equal(200, (await segment.GetMatrixAsync(null)).Matrix.Total);

            // Blobs: Orleans' blob provider names a state "{state name}-{grain id}.json" in its default container.
            var container = new BlobServiceClient(fixture.Azurite.ConnectionString).GetBlobContainerClient(AzureBlobStorageOptions.DEFAULT_CONTAINER_NAME);
            var blobs = new List<string>();
            await foreach (var blob in container.GetBlobsAsync())
            {
                blobs.Add(blob.Name);
            }

            Assert.Contains($"drift-{watcher.GetGrainId()}.json", blobs);
            Assert.Contains($"rollout-{rollout.GetGrainId()}.json", blobs);
            Assert.DoesNotContain($"matrix-{segment.GetGrainId()}.json", blobs);

            // Tables: the table provider keys an entity by "{service id}_{grain id}" and the state name.
            var table = new TableServiceClient(fixture.Azurite.ConnectionString).GetTableClient(AzureTableStorageOptions.DEFAULT_TABLE_NAME);
            var rows = new List<(string Partition, string Row)>();
            await foreach (var entity in table.QueryAsync<TableEntity>(e => e.PartitionKey.CompareTo(serviceId) >= 0, select: ["PartitionKey", "RowKey"]))
            {
                if (entity.PartitionKey.StartsWith(serviceId + "_", StringComparison.Ordinal))
                {
                    rows.Add((entity.PartitionKey, entity.RowKey));
                }
            }

            Assert.Contains(rows, r => r.Row == "matrix" && r.Partition.Contains(model, StringComparison.Ordinal));
            Assert.Contains(rows, r => r.Row == "registry" && r.Partition.Contains(model, StringComparison.Ordinal));
            Assert.DoesNotContain(rows, r => r.Row is "drift" or "rollout");
        }
        finally
        {
            await cluster.StopAllSilosAsync();
            await cluster.DisposeAsync();
        }
    }
}
