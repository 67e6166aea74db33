using ConfusionMatrix.Grains;
using Orleans.TestingHost;
using Xunit.Abstractions;
using static ConfusionMatrix.Tests.Shared.ClusterTestHelpers;

namespace ConfusionMatrix.Grains.Tests;

/// <summary>
/// The drift watcher's stored state with <c>Storage:Format=Binary</c>: one silo wired as the shared cluster's, every
/// store writing Orleans' binary form. The watcher that outgrows an Azure Table entity as JSON (10 classes, 50
/// segments) fits one as binary.
/// </summary>
public sealed class BinaryStateSizeTests(BinaryStorageClusterFixture fixture, ITestOutputHelper output) : IClassFixture<BinaryStorageClusterFixture>
{
    /// <summary>Measured: K=10 with 50 segments ~414 KiB stored as binary against ~1.2 MiB as JSON (0.34).</summary>
    [Fact]
    public async Task StoredState_AsBinary_IsAboutAThirdOfTheJson_AndFitsAnAzureTableEntity()
    {
        using var warnings = new DriftWatcherStateSizeTests.LargeStateWarnings();
        var size = await DriftWatcherStateSizeTests.MeasureAsync(fixture.Cluster, classes: 10, segments: 50);
        output.WriteLine($"K=10 segments=50, Storage:Format=Binary: {size}; stored/JSON {(double)size.GuardStored / size.GuardJson:0.00}");

        Assert.False(size.StoredAsJson, size.ToString());
        Assert.Equal(size.CanaryBinary, size.CanaryStored);
        Assert.Equal(size.GuardBinary, size.GuardStored);
        Assert.True(size.GuardJson > AzureTableStateLimit, size.ToString());
        Assert.True(size.GuardStored * 2 < size.GuardJson, size.ToString());
        Assert.True(size.MaxStored < DriftWatcherOptions.DefaultStateWarningBytes, size.ToString());
        Assert.Equal(0, warnings.Count(size.Model));
    }
}

/// <summary>A one-silo cluster as <see cref="ClusterFixture"/> builds it, with every store on <see cref="StorageFormat.Binary"/>.</summary>
public sealed class BinaryStorageClusterFixture : IAsyncLifetime
{
    public TestCluster Cluster { get; private set; } = null!;

    public async Task InitializeAsync() => Cluster = await ClusterFixture.DeployAsync<SiloConfigurator>(1);

    public Task DisposeAsync() => ClusterFixture.StopAsync(Cluster);

    private sealed class SiloConfigurator : ISiloConfigurator
    {
        public void Configure(ISiloBuilder silo)
        {
            ClusterFixture.ConfigureSilo(silo);
            foreach (var store in StorageNames.All)
            {
                silo.Services.AddStorageFormat(store, StorageFormat.Binary);
            }
        }
    }
}
