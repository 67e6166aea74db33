using Microsoft.Extensions.Configuration;

namespace ConfusionMatrix.Silo.Tests;

/// <summary>A bad configuration stops the host at once with exit code 2 and one line naming the key.</summary>
public sealed class ConfigurationValidationTests
{
    [Theory]
    [InlineData("--ConfusionMatrix:Storage:Provider=Foo", "ConfusionMatrix:Storage:Provider")]
    [InlineData("--ConfusionMatrix:Storage:Format=Protobuf", "ConfusionMatrix:Storage:Format")]
    [InlineData("--ConfusionMatrix:Streams:QueueCount=0", "ConfusionMatrix:Streams:QueueCount")]
    [InlineData("--ConfusionMatrix:Api:MaxRequestBytes=12", "ConfusionMatrix:Api:MaxRequestBytes")]
    public async Task BadValue_ExitsWithCode2_NamingTheKey(string argument, string key)
    {
        var ports = SiloProcess.FreePorts(3);
        using var silo = SiloProcess.Start(
        [
            "--urls", $"http://127.0.0.1:{ports[0]}",
            $"--ConfusionMatrix:Clustering:SiloPort={ports[1]}",
            $"--ConfusionMatrix:Clustering:GatewayPort={ports[2]}",
            argument,
        ]);

        Assert.True(await silo.WaitForExitAsync(TimeSpan.FromSeconds(60)), $"The silo with {argument} was still running after 60 s.\n{silo.OutputTail()}");
        Expect.Equal(2, silo.ExitCode, silo.OutputTail());
        var lines = silo.StandardError.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var line = Assert.Single(lines);
        Assert.StartsWith("Configuration error: ", line, StringComparison.Ordinal);
        Assert.Contains(key, line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task EqualSiloAndGatewayPorts_ExitWithCode2()
    {
        var ports = SiloProcess.FreePorts(2);
        using var silo = SiloProcess.Start(
        [
            "--urls", $"http://127.0.0.1:{ports[0]}",
            $"--ConfusionMatrix:Clustering:SiloPort={ports[1]}",
            $"--ConfusionMatrix:Clustering:GatewayPort={ports[1]}",
        ]);

        Assert.True(await silo.WaitForExitAsync(TimeSpan.FromSeconds(60)), $"still running after 60 s.\n{silo.OutputTail()}");
        Expect.Equal(2, silo.ExitCode, silo.OutputTail());
        Assert.Contains("ConfusionMatrix:Clustering:GatewayPort must differ", silo.StandardError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ModeNoneOnANonLoopbackAddress_RefusesToStart_WithOneLine()
    {
        var ports = SiloProcess.FreePorts(3);
        using var silo = SiloProcess.Start(
        [
            "--urls", $"http://0.0.0.0:{ports[0]}",
            $"--ConfusionMatrix:Clustering:SiloPort={ports[1]}",
            $"--ConfusionMatrix:Clustering:GatewayPort={ports[2]}",
        ]);

        Assert.True(await silo.WaitForExitAsync(TimeSpan.FromSeconds(60)), $"still running after 60 s.\n{silo.OutputTail()}");
        Expect.Equal(2, silo.ExitCode, silo.OutputTail());
        var line = Assert.Single(silo.StandardError.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        Assert.Contains("ConfusionMatrix:Auth:Mode=None is only allowed when the silo listens on loopback", line, StringComparison.Ordinal);
        Assert.Contains($"http://0.0.0.0:{ports[0]}", line, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("http://127.0.0.1:8080", true)]
    [InlineData("http://localhost:8080", true)]
    [InlineData("http://[::1]:8080", true)]
    [InlineData("http://0.0.0.0:8080", false)]
    [InlineData("http://*:8080", false)]
    [InlineData("http://+:8080", false)]
    [InlineData("http://[::]:8080", false)]
    [InlineData("http://10.1.2.3:8080", false)]
    public void Listen_addresses_are_loopback_or_not(string url, bool loopback) =>
        Assert.Equal(loopback, Configuration.ConfusionMatrixOptionsValidator.IsLoopbackUrl(url));

    [Theory]
    [InlineData("Mode", "Sometimes", "ConfusionMatrix:Auth:Mode must be one of")]
    [InlineData("ApiKeys:ci:Key", "short", "ConfusionMatrix:Auth:ApiKeys:ci:Key must be at least 16 characters")]
    [InlineData("ApiKeys:ci:Key", "sha256:abc", "ConfusionMatrix:Auth:ApiKeys:ci:Key must be the key itself or sha256:")]
    [InlineData("ApiKeys:ci:Roles:0", "root", "ConfusionMatrix:Auth:ApiKeys:ci:Roles has 'root'")]
    [InlineData("Mode", "Jwt", "ConfusionMatrix:Auth:Jwt:Authority must be")]
    [InlineData("MetricsRole", "everyone", "ConfusionMatrix:Auth:MetricsRole must be")]
    public void BadAuthSettings_AreNamed(string key, string value, string message)
    {
        var settings = new Dictionary<string, string?>
        {
            ["ConfusionMatrix:Auth:Mode"] = "ApiKey",
            ["ConfusionMatrix:Auth:ApiKeys:ci:Key"] = "a-long-enough-key-for-ci",
            ["ConfusionMatrix:Auth:ApiKeys:ci:Roles:0"] = "ingest",
            [$"ConfusionMatrix:Auth:{key}"] = value,
        };
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var problem = Hosting.ConfusionMatrixHost.TryReadOptions(configuration, out _);
        Assert.NotNull(problem);
        Assert.Contains(message, problem, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Stores:controll", "AzureBlob", "ConfusionMatrix:Storage:Stores:controll names no store; the stores are registry, matrices, labels, control, PubSubStore.")]
    [InlineData("Stores:control", "Blob", "ConfusionMatrix:Storage:Stores:control must be one of Memory, AzureTable, AzureBlob (got 'Blob').")]
    [InlineData("Stores:control", "AzureBlob", "ConfusionMatrix:Storage:BlobServiceUri with an Azure identity) is required for ConfusionMatrix:Storage:Stores:control=AzureBlob")]
    [InlineData("Stores:matrices", "AzureTable", "is required for Storage:Provider=Memory and ConfusionMatrix:Storage:Stores:matrices=AzureTable")]
    public void BadPerStoreProviders_AreNamed(string key, string value, string message)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { [$"ConfusionMatrix:Storage:{key}"] = value }).Build();
        var problem = Hosting.ConfusionMatrixHost.TryReadOptions(configuration, out _);
        Assert.NotNull(problem);
        Assert.Contains(message, problem, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Protobuf", "ConfusionMatrix:Storage:Format must be one of Json, Binary (got 'Protobuf').")]
    [InlineData("7", "ConfusionMatrix:Storage:Format must be one of Json, Binary (got '7').")]
    public void UnknownStorageFormat_IsNamed(string value, string message)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["ConfusionMatrix:Storage:Format"] = value }).Build();
        Assert.Equal(message, Hosting.ConfusionMatrixHost.TryReadOptions(configuration, out _));
    }

    [Theory]
    [InlineData(null, Grains.StorageFormat.Json)]
    [InlineData("binary", Grains.StorageFormat.Binary)]
    [InlineData("Json", Grains.StorageFormat.Json)]
    public void StorageFormat_DefaultsToJson_AndReadsEitherName(string? value, Grains.StorageFormat format)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["ConfusionMatrix:Storage:Format"] = value }).Build();
        Assert.Null(Hosting.ConfusionMatrixHost.TryReadOptions(configuration, out var options));
        Assert.Equal(format, options.Storage.Format);
    }

    [Fact]
    public void PerStoreProvider_OverridesTheDefaultForThatStoreOnly()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ConfusionMatrix:Storage:Provider"] = "AzureTable",
            ["ConfusionMatrix:Storage:ConnectionString"] = "UseDevelopmentStorage=true",
            ["ConfusionMatrix:Storage:Stores:Control"] = "azureblob",
        }).Build();

        Assert.Null(Hosting.ConfusionMatrixHost.TryReadOptions(configuration, out var options));
        Assert.Equal(Configuration.StorageProvider.AzureBlob, options.Storage.ProviderFor(Grains.StorageNames.Control));
        Assert.All(
            Grains.StorageNames.All.Where(s => s != Grains.StorageNames.Control),
            store => Assert.Equal(Configuration.StorageProvider.AzureTable, options.Storage.ProviderFor(store)));
    }

    [Fact]
    public void ApiKeys_MatchInClearOrByDigest_AndNothingElse()
    {
        var auth = new Security.AuthOptions { Mode = "ApiKey" };
        auth.ApiKeys["plain"] = new Security.ApiKeyOptions { Key = "plain-key-0123456789", Roles = ["viewer,ingest"] };
        auth.ApiKeys["hashed"] = new Security.ApiKeyOptions
        {
            Key = "sha256:" + Convert.ToHexString(System.Security.Cryptography.SHA256.HashData("hashed-key-0123456789"u8)),
            Roles = ["operator"],
        };
        var store = new Security.ApiKeyStore(auth);
        var plain = store.Find("plain-key-0123456789");
        Assert.Equal("plain", plain?.Name);
        Assert.Equal(["viewer", "ingest"], plain?.Roles ?? []);
        Assert.Equal("hashed", store.Find("hashed-key-0123456789")?.Name);
        Assert.Null(store.Find("plain-key-012345678"));
        Assert.Null(store.Find("sha256:" + Convert.ToHexString(System.Security.Cryptography.SHA256.HashData("hashed-key-0123456789"u8))));
    }
}
