using ConfusionMatrix.Abstractions;
using Microsoft.Extensions.Options;

namespace InferenceService;

/// <summary>Registers the sample's model when the registry does not know it yet, so a fresh local silo works at once.</summary>
public sealed partial class ModelBootstrap(IClusterClient client, IOptions<InferenceOptions> options, TimeProvider time, ILogger<ModelBootstrap> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var model = options.Value.Model;
        var registry = client.GetGrain<IModelRegistryGrain>(model);
        if (await registry.GetAsync() is null)
        {
            await registry.RegisterAsync(new ModelDefinition(model, [FakeModel.Legit, FakeModel.Fraud], FakeModel.Fraud, ["region", "channel"], time.GetUtcNow()));
            LogRegistered(logger, model);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(EventId = 4002, Level = LogLevel.Information, Message = "Registered model {Model} (classes legit, fraud; dimensions region, channel)")]
    private static partial void LogRegistered(ILogger logger, string model);
}
