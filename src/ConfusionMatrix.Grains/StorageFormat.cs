using Microsoft.Extensions.DependencyInjection;
using Orleans.Storage;

namespace ConfusionMatrix.Grains;

/// <summary>
/// How grain state is written (<c>ConfusionMatrix:Storage:Format</c>). Every store reads both, so switching loses no
/// state: a state is rewritten in the configured format on its next write.
/// </summary>
public enum StorageFormat
{
    /// <summary>Orleans' default JSON (Newtonsoft): what every earlier release wrote and the only format it reads.</summary>
    Json,

    /// <summary>Orleans' binary serializer: about a third of the JSON's size.</summary>
    Binary,
}

/// <summary>The grain-storage serializers of the stores, by <see cref="StorageFormat"/>.</summary>
public static class StorageFormats
{
    /// <summary>
    /// Registers the serializer of <paramref name="format"/> under the store's name, where Orleans' memory, Azure Table
    /// and Azure Blob providers look first for theirs.
    /// </summary>
    public static IServiceCollection AddStorageFormat(this IServiceCollection services, string store, StorageFormat format) =>
        services.AddKeyedSingleton(store, (provider, _) => Serializer(provider, format));

    /// <summary>
    /// Writes <paramref name="format"/>, reads it and falls back to the other, so a store holding states of both
    /// formats (after a switch, before every state has been written again) reads them all.
    /// </summary>
    public static IGrainStorageSerializer Serializer(IServiceProvider services, StorageFormat format)
    {
        var json = ActivatorUtilities.CreateInstance<JsonGrainStorageSerializer>(services);
        var binary = ActivatorUtilities.CreateInstance<OrleansGrainStorageSerializer>(services);
        return format == StorageFormat.Binary
            ? new GrainStorageSerializer(binary, json)
            : new GrainStorageSerializer(json, binary);
    }

    /// <summary>The serializer a store's provider uses: the one registered under its name, else the silo's default.</summary>
    public static IGrainStorageSerializer For(IServiceProvider services, string store) =>
        services.GetKeyedService<IGrainStorageSerializer>(store) ?? services.GetRequiredService<IGrainStorageSerializer>();
}
