using ConfusionMatrix.Abstractions;
using ConfusionMatrix.Grains;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Orleans.Providers.Streams.Common;
using Orleans.Streaming.EventHubs.Testing;
using Orleans.TestingHost;

namespace ConfusionMatrix.Streaming.EventHubs.Tests;

/// <summary>
/// The whole path in a test cluster: raw JSON events from a simulated Event Hubs partition, through the data adapter,
/// the pulling agent and the version router's implicit subscription, into exact segment matrices.
/// </summary>
public sealed class PipelineTests : IAsyncLifetime
{
    private const int Partitions = 4;
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);

    private TestCluster _cluster = null!;
    private MetricCollector<long>? _rejected;

    public async Task InitializeAsync()
    {
        var builder = new TestClusterBuilder(1);
        builder.AddSiloBuilderConfigurator<SiloConfigurator>();
        _cluster = builder.Build();
        await _cluster.DeployAsync();

        // Count this silo's rejections only: its metrics object is the one the adapter writes to.
        var silo = Assert.IsType<InProcessSiloHandle>(_cluster.Primary);
        var metrics = silo.SiloHost!.Services.GetRequiredService<EventHubIngestionMetrics>();
        _rejected = new MetricCollector<long>(metrics.Meter, EventHubIngestionMetrics.RejectedInstrumentName);
    }

    public async Task DisposeAsync()
    {
        _rejected?.Dispose();
        if (_cluster is not null)
        {
            await _cluster.StopAllSilosAsync();
            await _cluster.DisposeAsync();
        }
    }

    [Fact]
    public async Task RawJsonEvents_FromAPartition_GiveExactMatrices_AndAPoisonEventDoesNotStopTheFlow()
    {
        const string model = "eh-fraud";
        var client = _cluster.Client;
        await client.GetGrain<IModelRegistryGrain>(model).RegisterAsync(
            new ModelDefinition(model, ["legit", "fraud"], "fraud", ["region"], DateTimeOffset.UtcNow));

        var now = DateTimeOffset.UtcNow;
        string Rec(string id, string actual, string predicted, string region, string version = "v1") =>
            $$$"""{"predictionId":"{{{id}}}","model":"{{{model}}}","version":"{{{version}}}","predicted":"{{{predicted}}}","actual":"{{{actual}}}","score":0.9,"timestamp":"{{{now.AddSeconds(-5):O}}}","segments":{"region":"{{{region}}}"}}""";
        var names = new Dictionary<string, object> { ["model"] = model, ["version"] = "v1" };
        var streamId = StreamId.Create(PredictionLog.StreamNamespace, PredictionLog.VersionKey(model, "v1"));
        var script = RawEventScript.For(streamId);

        // 1: JSON array, names in the application properties.
        script.Pending.Enqueue(new RawEvent(
            BinaryData.FromString($"[{Rec("1", "fraud", "fraud", "EU")},{Rec("2", "legit", "fraud", "EU")},{Rec("3", "legit", "legit", "US")},{Rec("4", "fraud", "legit", "US")}]"),
            "application/json",
            names));

        // 2: poison, in the middle of the partition.
        script.Pending.Enqueue(new RawEvent(BinaryData.FromString("\u0000\u0001 definitely not JSON"), "application/octet-stream", names));

        // 3: NDJSON without properties (names from the first record); one record awaits its label (no 'actual'), one
        // lacks 'predicted', one is another version.
        script.Pending.Enqueue(new RawEvent(
            BinaryData.FromString(string.Join("\n",
                Rec("5", "fraud", "fraud", "EU"),
                """{"predictionId":"6","model":"eh-fraud","version":"v1","predicted":"fraud"}""",
                """{"predictionId":"6b","model":"eh-fraud","version":"v1","actual":"fraud"}""",
                Rec("7", "legit", "legit", "EU"),
                Rec("8", "fraud", "fraud", "EU", version: "v2"),
                Rec("9", "legit", "legit", "US"))),
            null,
            new Dictionary<string, object>()));

        // 4: JSON array after the poison event.
        script.Pending.Enqueue(new RawEvent(
            BinaryData.FromString($"[{Rec("10", "legit", "fraud", "EU")},{Rec("11", "fraud", "fraud", "US")}]"),
            "application/json",
            names));

        await PlaceAsync(client, streamId, script);

        // Rows are actual, columns predicted, classes [legit, fraud].
        var all = await ClusterTestHelpers.WaitForTotalAsync(client, model, "v1", Segments.All, 9, Deadline);
        Assert.Equal([[3L, 2L], [1L, 3L]], all.Matrix.ToRows());
        Assert.Equal(4, all.BatchesApplied); // three events, and the label join's delivery of the waiting prediction
        Assert.Equal(new long[] { 0, 1 }, all.PendingByPredicted!);

        var eu = await ClusterTestHelpers.WaitForTotalAsync(client, model, "v1", Segments.For("region", "EU"), 5, Deadline);
        Assert.Equal([[1L, 2L], [0L, 2L]], eu.Matrix.ToRows());
        var us = await ClusterTestHelpers.WaitForTotalAsync(client, model, "v1", Segments.For("region", "US"), 4, Deadline);
        Assert.Equal([[2L, 0L], [1L, 1L]], us.Matrix.ToRows());

        Assert.Equal(4, script.Sent);
        var rejected = AdapterHarness.RejectedByReason(_rejected!);
        Assert.Equal(1, rejected.GetValueOrDefault(RejectionReasons.Malformed));
        Assert.Equal(1, rejected.GetValueOrDefault(RejectionReasons.MissingField));
        Assert.Equal(1, rejected.GetValueOrDefault(EventHubRejectionReasons.MixedVersion));

        // The other version's record went nowhere: no matrix was started for v2.
        var v2 = await client.GetGrain<ISegmentMatrixGrain>(Segments.MatrixKey(model, "v2", Segments.All)).GetMatrixAsync(null);
        Assert.Equal(0, v2.Matrix.Total);
    }

    /// <summary>
    /// Places the stream's generator on a partition. The command is ignored while the partition's receiver is still
    /// starting, so it is repeated until the generator exists.
    /// </summary>
    private static async Task PlaceAsync(IClusterClient client, StreamId streamId, RawEventScript script)
    {
        var management = client.GetGrain<IManagementGrain>(0);
        await Eventually.TrueAsync(
            async () =>
            {
                if (!script.Placed)
                {
                    await management.SendControlCommandToProvider<PersistentStreamProvider>(
                        PredictionLog.StreamProvider,
                        (int)EventDataGeneratorAdapterFactory.Commands.Randomly_Place_Stream_To_Queue,
                        new EventDataGeneratorAdapterFactory.StreamRandomPlacementArg(streamId, Random.Shared.Next(Partitions)));
                }

                return script.Placed;
            },
            "a partition accepting the stream generator",
            Deadline,
            TimeSpan.FromMilliseconds(100));
    }

    private sealed class SiloConfigurator : ISiloConfigurator
    {
        public void Configure(ISiloBuilder silo)
        {
            silo.Services.AddConfusionMatrixGrainServices();
            silo.AddMemoryGrainStorage(StorageNames.Registry);
            silo.AddMemoryGrainStorage(StorageNames.Matrices);
            silo.AddMemoryGrainStorage(StorageNames.Labels);
            silo.AddMemoryGrainStorage(StorageNames.Control);
            silo.AddMemoryGrainStorage(StorageNames.PubSub);
            silo.AddPredictionLogEventHubGenerator(PredictionLog.StreamProvider, Partitions, (_, streamId) => new RawJsonEventGenerator(streamId));
        }
    }
}
