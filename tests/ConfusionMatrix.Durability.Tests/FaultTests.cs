using ConfusionMatrix.Abstractions;
using ConfusionMatrix.Grains;
using ConfusionMatrix.Silo.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Orleans.TestingHost;

namespace ConfusionMatrix.Durability.Tests;

/// <summary>
/// Every acknowledged prediction is counted exactly once: across a killed silo, a restart of every silo, a storage
/// outage, redelivery, and poison input. Azure Table storage and Azure Queue streams on Azurite.
/// </summary>
[Collection(DurabilityCollection.Name)]
public sealed class FaultTests(AzuriteFixture fixture)
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(120);

    [Fact]
    public async Task A_SiloKilledMidStream_EverySegmentSumsToItsShare()
    {
        var cluster = await DurableCluster.StartAsync(fixture.Azurite, Unique("kill"), silos: 3);
        try
        {
            const string model = "kill";
            await Producer.RegisterAsync(cluster.Client, model);
            var producer = new Producer(cluster.Client, model, "v1", "producer-a");
            const int batches = 90;
            var killed = false;
            for (var b = 0; b < batches; b++)
            {
                await producer.SendAsync(producer.Next(size: 400, seed: b), Deadline);
                if (b == batches / 3)
                {
                    // Mid-stream: batches are queued and in flight on every silo.
                    await cluster.KillSiloAsync(cluster.SecondarySilos[0]);
                    killed = true;
                }
            }

            Assert.True(killed);
            Assert.Equal(batches * 400, producer.AcknowledgedTotal);
            Assert.True(producer.Acknowledged.Count >= 1 + 4 + 3);
            await Verify.ExactlyOnceAsync(cluster.Client, model, "v1", producer.Acknowledged, Deadline, hold: TimeSpan.FromSeconds(6));
        }
        finally
        {
            await StopAsync(cluster);
        }
    }

    [Fact]
    public async Task B_AllSilosRestart_StateIsIntact_AndOldBatchesStaySkipped()
    {
        var serviceId = Unique("restart");
        const string model = "restart";
        Producer producer;
        PredictionBatch first;
        var cluster = await DurableCluster.StartAsync(fixture.Azurite, serviceId, silos: 2);
        try
        {
            await Producer.RegisterAsync(cluster.Client, model);
            producer = new Producer(cluster.Client, model, "v1", "producer-b");
            first = producer.Next(300, seed: 100);
            await producer.SendAsync(first, Deadline);
            for (var b = 1; b < 20; b++)
            {
                await producer.SendAsync(producer.Next(300, seed: 100 + b), Deadline);
            }

            await Verify.ExactlyOnceAsync(cluster.Client, model, "v1", producer.Acknowledged, Deadline, hold: TimeSpan.Zero);
        }
        finally
        {
            await StopAsync(cluster);
        }

        // Every silo is gone. A new cluster of the same service reads the same storage.
        cluster = await DurableCluster.StartAsync(fixture.Azurite, serviceId, silos: 2);
        try
        {
            await Verify.ExactlyOnceAsync(cluster.Client, model, "v1", producer.Acknowledged, Deadline, hold: TimeSpan.Zero);

            // The replay windows were stored with the counts: the very first batch, replayed now, is still recognised.
            var router = cluster.Client.GetGrain<IVersionRouterGrain>(PredictionLog.VersionKey(model, "v1"));
            await router.IngestAsync(first);
            await Verify.ExactlyOnceAsync(cluster.Client, model, "v1", producer.Acknowledged, Deadline, hold: TimeSpan.FromSeconds(2));
        }
        finally
        {
            await StopAsync(cluster);
        }
    }

    [Fact]
    public async Task C_StorageOutage_IngestionStallsAndRetries_HealthIsDegraded_NothingLostOrDoubled()
    {
        var cluster = await DurableCluster.StartAsync(fixture.Azurite, Unique("outage"), silos: 2);
        try
        {
            const string model = "outage";
            await Producer.RegisterAsync(cluster.Client, model);
            var producer = new Producer(cluster.Client, model, "v1", "producer-c");
            for (var b = 0; b < 10; b++)
            {
                await producer.SendAsync(producer.Next(300, seed: 200 + b), Deadline);
            }

            await Verify.ExactlyOnceAsync(cluster.Client, model, "v1", producer.Acknowledged, Deadline, hold: TimeSpan.Zero);

            // A direct call made while storage is frozen: its write fails, the caller sees the failure, health degrades.
            var pending = producer.Next(300, seed: 300);
            var router = cluster.Client.GetGrain<IVersionRouterGrain>(PredictionLog.VersionKey(model, "v1"));
            fixture.Azurite.Pause();
            Task<bool> degradedWhilePaused;
            try
            {
                await Assert.ThrowsAnyAsync<Exception>(() => router.IngestAsync(pending));
                degradedWhilePaused = Task.FromResult(await AnySiloDegradedAsync(cluster));
            }
            finally
            {
                fixture.Azurite.Resume();
            }

            Assert.True(await degradedWhilePaused, "/health should report degraded while storage writes fail");

            // The sender retries the same batch (same producer and sequence) until it is acknowledged.
            var until = DateTime.UtcNow + Deadline;
            while (true)
            {
                try
                {
                    await router.IngestAsync(pending);
                    break;
                }
                catch (Exception) when (DateTime.UtcNow < until)
                {
                    await Task.Delay(500);
                }
            }

            // Segments that had applied the batch before the outage hit them skip it; the others apply it now.
            var expected = producer.Acknowledged;
            Producer.AddTo(expected, pending);
            for (var b = 0; b < 5; b++)
            {
                await producer.SendAsync(producer.Next(300, seed: 400 + b), Deadline);
            }

            await Verify.ExactlyOnceAsync(cluster.Client, model, "v1", expected, Deadline, hold: TimeSpan.FromSeconds(4));
        }
        finally
        {
            await StopAsync(cluster);
        }
    }

    [Fact]
    public async Task D_SameBatchDeliveredTwice_IsCountedOnce()
    {
        var cluster = await DurableCluster.StartAsync(fixture.Azurite, Unique("twice"), silos: 1);
        try
        {
            const string model = "twice";
            await Producer.RegisterAsync(cluster.Client, model);
            var producer = new Producer(cluster.Client, model, "v1", "producer-d");
            var batch = producer.Next(500, seed: 7);
            await producer.SendAsync(batch, Deadline);
            var stream = cluster.Client.GetStreamProvider(PredictionLog.StreamProvider)
                .GetStream<PredictionBatch>(StreamId.Create(PredictionLog.StreamNamespace, PredictionLog.VersionKey(model, "v1")));
            await stream.OnNextAsync(batch);
            await cluster.Client.GetGrain<IVersionRouterGrain>(PredictionLog.VersionKey(model, "v1")).IngestAsync(batch);
            var next = producer.Next(500, seed: 8);
            await producer.SendAsync(next, Deadline);

            await Verify.ExactlyOnceAsync(cluster.Client, model, "v1", producer.Acknowledged, Deadline, hold: TimeSpan.FromSeconds(3));
        }
        finally
        {
            await StopAsync(cluster);
        }
    }

    [Fact]
    public async Task E_PoisonBatch_IsDeadLetteredWithItsReason_AndTheStreamKeepsFlowing()
    {
        var cluster = await DurableCluster.StartAsync(fixture.Azurite, Unique("poison"), silos: 1);
        try
        {
            const string model = "poison";
            await Producer.RegisterAsync(cluster.Client, model);
            var producer = new Producer(cluster.Client, model, "v1", "producer-e");
            await producer.SendAsync(producer.Next(200, seed: 1), Deadline);

            var stream = cluster.Client.GetStreamProvider(PredictionLog.StreamProvider)
                .GetStream<PredictionBatch>(StreamId.Create(PredictionLog.StreamNamespace, PredictionLog.VersionKey(model, "v1")));
            var poison = new PredictionBatch(model, "v1", "poisoner", 1, ["cat"], [0, 0, 0], [0], [0, 0, 0], [], [], []);
            await stream.OnNextAsync(poison);

            await producer.SendAsync(producer.Next(200, seed: 2), Deadline);
            await Verify.ExactlyOnceAsync(cluster.Client, model, "v1", producer.Acknowledged, Deadline, hold: TimeSpan.Zero);

            var letters = await cluster.Client.GetGrain<IDeadLetterGrain>(model).GetAsync();
            var letter = Assert.Single(letters);
            Assert.Equal("poisoner:1", letter.BatchId);
            Assert.Equal(3, letter.Predictions);
            Assert.Contains("column lengths differ", letter.Reason);
        }
        finally
        {
            await StopAsync(cluster);
        }
    }

    private static async Task<bool> AnySiloDegradedAsync(TestCluster cluster)
    {
        foreach (var silo in cluster.GetActiveSilos().OfType<InProcessSiloHandle>())
        {
            var check = new StorageHealthCheck(silo.SiloHost.Services.GetRequiredService<StorageHealth>());
            var result = await check.CheckHealthAsync(new HealthCheckContext());
            if (result.Status == HealthStatus.Degraded)
            {
                return true;
            }
        }

        return false;
    }

    private static string Unique(string stem) => $"{stem}{Guid.NewGuid():N}"[..20];

    private static async Task StopAsync(TestCluster cluster)
    {
        await cluster.StopAllSilosAsync();
        await cluster.DisposeAsync();
    }
}
