using System.Collections.Concurrent;
using ConfusionMatrix.Abstractions;

namespace ConfusionMatrix.Silo.Api;

/// <summary>
/// Short-lived cache of registry entries for request validation, so that a burst of prediction requests does not
/// turn into a burst of registry calls. Registration through this host invalidates the entry at once.
/// </summary>
public sealed class ModelDefinitionCache(IGrainFactory grains, ConfusionMatrix.Grains.ApplicationClock clock)
{
    internal static readonly TimeSpan TimeToLive = TimeSpan.FromSeconds(2);

    private readonly ConcurrentDictionary<string, (ModelDefinition? Definition, DateTimeOffset ReadAt)> _entries = new(StringComparer.Ordinal);

    public async ValueTask<ModelDefinition?> GetAsync(string model)
    {
        var now = clock.GetUtcNow();
        if (_entries.TryGetValue(model, out var entry) && now - entry.ReadAt < TimeToLive)
        {
            return entry.Definition;
        }

        for (var attempt = 0; ; attempt++)
        {
            try
            {
                var definition = await grains.GetGrain<IModelRegistryGrain>(model).GetAsync();
                _entries[model] = (definition, now);
                return definition;
            }
            catch (Exception ex) when (Hosting.ApiExceptionHandler.IsTransient(ex))
            {
                // The registry's silo just died: a definition read moments ago is still right (models change rarely),
                // and without one the call is retried until the cluster has moved the registry grain.
                if (entry.Definition is not null)
                {
                    return entry.Definition;
                }

                if (attempt >= PredictionPublisher.RetryDelays.Length)
                {
                    throw;
                }

                await Task.Delay(PredictionPublisher.RetryDelays[attempt]);
            }
        }
    }

    public void Set(ModelDefinition definition) => _entries[definition.Model] = (definition, clock.GetUtcNow());
}
