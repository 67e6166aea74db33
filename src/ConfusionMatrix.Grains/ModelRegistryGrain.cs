using System.Collections.Immutable;
using ConfusionMatrix.Abstractions;
using Microsoft.Extensions.Logging;

namespace ConfusionMatrix.Grains;

[GenerateSerializer, Alias("cm.ModelRegistryState")]
public sealed class ModelRegistryState
{
    [Id(0)] public ModelDefinition? Definition { get; set; }

    [Id(1)] public Dictionary<string, HashSet<string>> SegmentsByVersion { get; set; } = new(StringComparer.Ordinal);
}

/// <summary>One model's registry entry and catalog of versions and segments.</summary>
public sealed class ModelRegistryGrain(
    [PersistentState("registry", StorageNames.Registry)] IPersistentState<ModelRegistryState> state,
    ILogger<ModelRegistryGrain> logger) : Grain, IModelRegistryGrain
{
    /// <summary>Bounds the catalog per version: segment values come from producers and must not grow state without limit.</summary>
    internal const int MaxSegmentsPerVersion = 10_000;

    public async Task<ModelDefinition> RegisterAsync(ModelDefinition definition)
    {
        var model = this.GetPrimaryKeyString();
        if (!string.Equals(definition.Model, model, StringComparison.Ordinal))
        {
            throw new ArgumentException($"Definition names model '{definition.Model}' but was sent to '{model}'.");
        }

        var problem = ModelDefinition.Validate(definition.Model, definition.Classes, definition.PositiveClass, definition.SegmentDimensions);
        if (problem is not null)
        {
            throw new ArgumentException(problem);
        }

        var existing = state.State.Definition;
        if (existing is not null && !existing.Classes.SequenceEqual(definition.Classes, StringComparer.Ordinal))
        {
            throw new ConflictException(
                $"Model '{model}' is registered with classes [{string.Join(", ", existing.Classes)}]; stored matrices index those classes, so they cannot change. Register a new model name instead.");
        }

        state.State.Definition = definition;
        try
        {
            await state.WriteStateAsync();
        }
        catch
        {
            // Not stored means not registered: forget the change in memory too.
            state.State.Definition = existing;
            throw;
        }

        Log.ModelRegistered(logger, model, definition.Classes.Length, string.Join(", ", definition.SegmentDimensions));
        return definition;
    }

    public ValueTask<ModelDefinition?> GetAsync() => ValueTask.FromResult(state.State.Definition);

    public async Task ReportSegmentsAsync(string version, ImmutableArray<string> segments)
    {
        if (!state.State.SegmentsByVersion.TryGetValue(version, out var known))
        {
            known = new HashSet<string>(StringComparer.Ordinal);
            state.State.SegmentsByVersion[version] = known;
        }

        var changed = false;
        foreach (var segment in segments)
        {
            if (known.Count >= MaxSegmentsPerVersion)
            {
                Log.CatalogFull(logger, this.GetPrimaryKeyString(), version, MaxSegmentsPerVersion);
                break;
            }

            if (!SegmentKey.TryParse(segment, out _))
            {
                // Routers only report segments they built from checked dimension values; anything else is not kept.
                continue;
            }

            changed |= known.Add(segment);
        }

        if (changed)
        {
            await state.WriteStateAsync();
        }
    }

    public ValueTask<ModelCatalog> GetCatalogAsync()
    {
        var byVersion = state.State.SegmentsByVersion.ToImmutableDictionary(
            kv => kv.Key,
            kv => kv.Value.Order(StringComparer.Ordinal).ToImmutableArray(),
            StringComparer.Ordinal);
        return ValueTask.FromResult(new ModelCatalog(state.State.Definition, byVersion));
    }
}
