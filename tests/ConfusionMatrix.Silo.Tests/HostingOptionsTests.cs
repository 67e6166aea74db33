using ConfusionMatrix.Silo.Configuration;
using ConfusionMatrix.Silo.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Orleans.Configuration;

namespace ConfusionMatrix.Silo.Tests;

/// <summary>
/// What the host builds from its configuration, checked without starting it: the health endpoints' checks, the Azure
/// clients (connection string or service URI with an Azure identity), and Kubernetes hosting from the pod's environment.
/// </summary>
[Collection(HostingOptionsCollection.Name)]
public sealed class HostingOptionsTests
{
    private const string Azurite = "UseDevelopmentStorage=true";

    [Fact]
    public async Task Liveness_RunsOnlyTheProcessCheck_AndReadinessTheClusterAndStorageChecks()
    {
        await using var app = Build([]);
        var registrations = app.Services.GetRequiredService<IOptions<HealthCheckServiceOptions>>().Value.Registrations;
        Assert.Equal(["process"], registrations.Where(r => r.Tags.Contains(HealthTags.Live)).Select(r => r.Name));
        Assert.Equal(["orleans", "storage"], registrations.Where(r => r.Tags.Contains(HealthTags.Ready)).Select(r => r.Name).Order());
    }

    [Fact]
    public void ServiceUrisWithoutConnectionStrings_UseTheAzureIdentity()
    {
        var options = Options(
            ("Clustering:Provider", "AzureTable"),
            ("Storage:Provider", "AzureTable"),
            ("Storage:TableServiceUri", "https://acct.table.core.windows.net"),
            ("Streams:Provider", "AzureQueue"),
            ("Streams:QueueServiceUri", "https://acct.queue.core.windows.net"));
        Assert.Empty(ConfusionMatrixOptionsValidator.Check(options));
        var table = AzureClients.Table(options);
        Assert.Equal(new Uri("https://acct.table.core.windows.net"), table.Uri);
        Assert.Equal("acct", table.AccountName);
        Assert.Equal(new Uri("https://acct.queue.core.windows.net/"), AzureClients.Queue(options).Uri);
    }

    [Fact]
    public void ConnectionString_WinsOverAServiceUri()
    {
        var options = Options(("Storage:Provider", "AzureTable"), ("Storage:ConnectionString", Azurite), ("Storage:TableServiceUri", "https://acct.table.core.windows.net"));
        Assert.Equal("devstoreaccount1", AzureClients.Table(options).AccountName);
        Assert.Equal("devstoreaccount1", AzureClients.Queue(options).AccountName);
    }

    [Theory]
    [InlineData("Storage:Provider=AzureTable", "ConfusionMatrix:Storage:TableServiceUri with an Azure identity")]
    [InlineData("Storage:Provider=AzureBlob", "ConfusionMatrix:Storage:BlobServiceUri with an Azure identity")]
    [InlineData("Streams:Provider=EventHubs", "ConfusionMatrix:Streams:FullyQualifiedNamespace with an Azure identity")]
    [InlineData("Storage:TableServiceUri=acct.table.core.windows.net", "ConfusionMatrix:Storage:TableServiceUri must be an absolute https:// URI")]
    [InlineData("Clustering:ProbeTimeoutSeconds=0", "ConfusionMatrix:Clustering:ProbeTimeout (or ProbeTimeoutSeconds) must be between 1 second and 1 minute")]
    [InlineData("Clustering:ProbeTimeout=00:05:00", "ConfusionMatrix:Clustering:ProbeTimeout (or ProbeTimeoutSeconds) must be between 1 second and 1 minute")]
    [InlineData("Streams:PollPeriod=00:00:00.001", "ConfusionMatrix:Streams:PollPeriod (or PollMilliseconds) must be between 5 ms and 10 seconds")]
    [InlineData("Clustering:AdvertisedAddress=pod-a", "ConfusionMatrix:Clustering:AdvertisedAddress must be an IP address")]
    public void MissingOrBadAzureSettings_NameTheKey(string setting, string message)
    {
        var (key, value) = (setting[..setting.IndexOf('=')], setting[(setting.IndexOf('=') + 1)..]);
        var errors = ConfusionMatrixOptionsValidator.Check(Options((key, value)));
        Assert.Contains(errors, e => e.Contains(message, StringComparison.Ordinal));
    }

    [Fact]
    public async Task KubernetesHosting_AdvertisesThePodIp_AndKeepsTheChartsClusterIds()
    {
        // What the chart's Deployment gives every pod (downward API and ORLEANS_* variables), without an API server:
        // the host is built, not started, so Orleans' Kubernetes agent never calls one.
        var pod = new Dictionary<string, string?>
        {
            ["POD_NAME"] = "cm-confusionmatrix-actors-7d9f-abcde",
            ["POD_NAMESPACE"] = "ml",
            ["POD_IP"] = "10.1.2.3",
            ["ORLEANS_CLUSTER_ID"] = "cm-confusionmatrix-actors",
            ["ORLEANS_SERVICE_ID"] = "confusionmatrix-actors",
        };
        var saved = pod.Keys.ToDictionary(k => k, Environment.GetEnvironmentVariable);
        try
        {
            foreach (var (name, value) in pod)
            {
                Environment.SetEnvironmentVariable(name, value);
            }

            await using var app = Build(
            [
                "--ConfusionMatrix:Clustering:Provider=Kubernetes",
                "--ConfusionMatrix:Clustering:ClusterId=cm-confusionmatrix-actors",
                "--ConfusionMatrix:Clustering:ServiceId=confusionmatrix-actors",
                "--ConfusionMatrix:Clustering:SiloPort=11111",
                "--ConfusionMatrix:Clustering:GatewayPort=30000",
                "--ConfusionMatrix:Storage:Provider=AzureTable",
                $"--ConfusionMatrix:Storage:ConnectionString={Azurite}",
            ]);
            var endpoints = app.Services.GetRequiredService<IOptions<EndpointOptions>>().Value;
            Assert.Equal("10.1.2.3", endpoints.AdvertisedIPAddress?.ToString());
            Assert.Equal(11111, endpoints.SiloPort);
            Assert.Equal(30000, endpoints.GatewayPort);
            var cluster = app.Services.GetRequiredService<IOptions<ClusterOptions>>().Value;
            Assert.Equal("cm-confusionmatrix-actors", cluster.ClusterId);
            Assert.Equal("confusionmatrix-actors", cluster.ServiceId);
            Assert.Equal("cm-confusionmatrix-actors-7d9f-abcde", app.Services.GetRequiredService<IOptions<SiloOptions>>().Value.SiloName);
        }
        finally
        {
            foreach (var (name, value) in saved)
            {
                Environment.SetEnvironmentVariable(name, value);
            }
        }
    }

    [Theory]
    [InlineData("--ConfusionMatrix:Clustering:ProbeTimeoutSeconds=2")]
    [InlineData("--ConfusionMatrix:Clustering:ProbeTimeout=00:00:02")]
    public async Task Duration_IsReadFromItsTimeSpanKey_OrTheEarlierSecondsKey(string setting)
    {
        await using var app = Build([setting]);
        Assert.Equal(TimeSpan.FromSeconds(2), app.Services.GetRequiredService<IOptions<ClusterMembershipOptions>>().Value.ProbeTimeout);
    }

    [Fact]
    public async Task MembershipProbeSettings_ReachOrleans()
    {
        await using var app = Build(["--ConfusionMatrix:Clustering:ProbeTimeoutSeconds=2", "--ConfusionMatrix:Clustering:MissedProbesLimit=4"]);
        var membership = app.Services.GetRequiredService<IOptions<ClusterMembershipOptions>>().Value;
        Assert.Equal(TimeSpan.FromSeconds(2), membership.ProbeTimeout);
        Assert.Equal(4, membership.NumMissedProbesLimit);
    }

    private static WebApplication Build(string[] arguments)
    {
        var builder = WebApplication.CreateBuilder(arguments);
        Assert.Null(ConfusionMatrixHost.TryReadOptions(builder.Configuration, out var options));
        return ConfusionMatrixHost.Build(builder, options);
    }

    private static ConfusionMatrixOptions Options(params (string Key, string Value)[] settings)
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(settings.Select(s => new KeyValuePair<string, string?>($"{ConfusionMatrixOptions.SectionName}:{s.Key}", s.Value)))
            .Build();
        var options = new ConfusionMatrixOptions();
        configuration.GetSection(ConfusionMatrixOptions.SectionName).Bind(options);
        return options;
    }
}

/// <summary>The Kubernetes test sets process environment variables: nothing else in this collection runs beside it.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class HostingOptionsCollection
{
    public const string Name = "hosting options";
}
