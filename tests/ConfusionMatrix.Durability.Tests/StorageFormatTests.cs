using Azure.Data.Tables;
using ConfusionMatrix.Abstractions;
using ConfusionMatrix.Grains;
using ConfusionMatrix.Silo.Configuration;
using Orleans.Configuration;
using Orleans.TestingHost;

namespace ConfusionMatrix.Durability.Tests;

/// <summary>
/// <c>Storage:Format</c> switched on a deployment that holds state: Json to Binary and back, each time on a new
/// cluster over the same Azurite tables. Every state written before the switch is read after it, and the entities
/// Orleans' table provider holds change format when they are written again (looked at with the Azure SDK).
/// </summary>
[Collection(DurabilityCollection.Name)]
public sealed class StorageFormatTests(AzuriteFixture fixture)
{
    [Fact]
    public async Task SwitchingTheFormat_EitherWay_ReadsTheStateWrittenBefore_AndRewritesItInTheNewFormat()
    {
        var serviceId = $"format{Guid.NewGuid():N}"[..20];
        var model = $"format-{Guid.NewGuid():N}"[..24];
        var expected = new Dictionary<string, long[,]>(StringComparer.Ordinal);
        var seed = 0;

        // Json, what earlier releases wrote: a stable version and counts in every segment.
        await WithClusterAsync(serviceId, StorageFormat.Json, async client =>
        {
            await Producer.RegisterAsync(client, model);
            await client.GetGrain<IRolloutControllerGrain>(model).SetStableAsync("v1", "operator:alice", "first release");
            await IngestAsync(client, ++seed);
            await AssertStoredAsync(StorageFormat.Json);
        });

        // Binary: the JSON counts and rollout are read; what is written now is binary.
        await WithClusterAsync(serviceId, StorageFormat.Binary, async client =>
        {
            var rollout = client.GetGrain<IRolloutControllerGrain>(model);
            var view = await rollout.GetStateAsync();
            Assert.Equal("v1", view.Routing.Stable);
            Assert.Single(view.History);
            await Verify.ExactlyOnceAsync(client, model, "v1", expected, TimeSpan.FromSeconds(10), TimeSpan.Zero);

            await rollout.StartCanaryAsync("v2", 10, "operator:alice", "canary");
            await IngestAsync(client, ++seed);
            await AssertStoredAsync(StorageFormat.Binary);
        });

        // Back to Json: the binary counts and rollout are read; what is written now is JSON again.
        await WithClusterAsync(serviceId, StorageFormat.Json, async client =>
        {
            var rollout = client.GetGrain<IRolloutControllerGrain>(model);
            var view = await rollout.GetStateAsync();
            Assert.Equal(("v1", "v2", 10), (view.Routing.Stable, view.Routing.Canary, view.Routing.CanaryWeightPercent));
            Assert.Equal(2, view.History.Length);
            await Verify.ExactlyOnceAsync(client, model, "v1", expected, TimeSpan.FromSeconds(10), TimeSpan.Zero);

            await rollout.SetWeightAsync(25, "operator:alice", "more traffic");
            await IngestAsync(client, ++seed);
            await AssertStoredAsync(StorageFormat.Json);
            Assert.Equal(25, (await rollout.GetStateAsync()).Routing.CanaryWeightPercent);
            await Verify.ExactlyOnceAsync(client, model, "v1", expected, TimeSpan.FromSeconds(10), TimeSpan.Zero);
        });

        // Acknowledged by the router after the segments wrote their state (durable storage writes before acknowledging).
        async Task IngestAsync(IClusterClient client, int batchSeed)
        {
            var batch = new Producer(client, model, "v1", $"producer-{batchSeed}").Next(size: 300, seed: batchSeed);
            var router = client.GetGrain<IVersionRouterGrain>(PredictionLog.VersionKey(model, "v1"));
            Assert.Equal(300, (await router.IngestAsync(batch)).Accepted);
            Producer.AddTo(expected, batch);
        }

        // Every segment matrix of the model (each took part of the last batch) and its rollout, as the table holds them.
        async Task AssertStoredAsync(StorageFormat format)
        {
            var table = new TableServiceClient(fixture.Azurite.ConnectionString).GetTableClient(AzureTableStorageOptions.DEFAULT_TABLE_NAME);
            var stored = new List<(string Row, byte[] Data)>();
            await foreach (var entity in table.QueryAsync<TableEntity>(e => e.PartitionKey.CompareTo(serviceId) >= 0))
            {
                if (entity.PartitionKey.StartsWith(serviceId + "_", StringComparison.Ordinal)
                    && entity.PartitionKey.Contains(model, StringComparison.Ordinal)
                    && entity.RowKey is "matrix" or "rollout")
                {
                    stored.Add((entity.RowKey, entity.GetBinary("Data")));
                }
            }

            Assert.Single(stored, s => s.Row == "rollout");
            Assert.Equal(expected.Count, stored.Count(s => s.Row == "matrix"));
            Assert.All(stored, s => Assert.True(
                IsJson(s.Data) == (format == StorageFormat.Json),
                $"{s.Row} stored as {(IsJson(s.Data) ? "JSON" : "binary")} with Storage:Format={format}"));
        }
    }

    /// <summary>Orleans' JSON grain-storage serializer writes an object; its binary serializer starts with a field header.</summary>
    private static bool IsJson(byte[] data)
    {
        if (data.Length == 0 || data[0] != (byte)'{')
        {
            return false;
        }

        using var document = System.Text.Json.JsonDocument.Parse(data);
        return document.RootElement.ValueKind == System.Text.Json.JsonValueKind.Object;
    }

    private async Task WithClusterAsync(string serviceId, StorageFormat format, Func<IClusterClient, Task> act)
    {
        var cluster = await DurableCluster.StartAsync(fixture.Azurite, serviceId, silos: 1, format: format);
        try
        {
            await act(cluster.Client);
        }
        finally
        {
            await cluster.StopAllSilosAsync();
            await cluster.DisposeAsync();
        }
    }
}
