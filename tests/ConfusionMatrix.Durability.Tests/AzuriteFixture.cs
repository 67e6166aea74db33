namespace ConfusionMatrix.Durability.Tests;

/// <summary>One Azurite for the durability tests; each test runs its own cluster under its own service id.</summary>
public sealed class AzuriteFixture : IAsyncLifetime
{
    public Azurite Azurite { get; private set; } = null!;

    public async Task InitializeAsync() => Azurite = await Azurite.StartAsync();

    public async Task DisposeAsync() => await Azurite.DisposeAsync();
}

[CollectionDefinition(Name)]
public sealed class DurabilityCollection : ICollectionFixture<AzuriteFixture>
{
    public const string Name = "durability";
}
