using Azure.Core;
using Azure.Data.Tables;
using Azure.Identity;
using Azure.Storage.Blobs;
using Azure.Storage.Queues;
using ConfusionMatrix.Silo.Configuration;

namespace ConfusionMatrix.Silo.Hosting;

/// <summary>
/// The Azure clients of the silo, from a connection string when one is configured, else from a service URI with
/// <see cref="DefaultAzureCredential"/> (workload identity on Kubernetes, managed identity, or AZURE_* variables):
/// many accounts forbid shared keys. One credential serves every client, so tokens are fetched once per scope.
/// </summary>
public static class AzureClients
{
    private static readonly Lazy<TokenCredential> SharedCredential = new(() => new DefaultAzureCredential());

    public static TokenCredential Credential => SharedCredential.Value;

    public static TableServiceClient Table(ConfusionMatrixOptions options) =>
        options.Storage.ConnectionString is { Length: > 0 } connection
            ? new TableServiceClient(connection, Retry(new TableClientOptions(), options))
            : new TableServiceClient(Required(options.Storage.TableServiceUri, "Storage:TableServiceUri"), Credential, Retry(new TableClientOptions(), options));

    public static BlobServiceClient Blob(ConfusionMatrixOptions options) =>
        options.Storage.ConnectionString is { Length: > 0 } connection
            ? new BlobServiceClient(connection, Retry(new BlobClientOptions(), options))
            : new BlobServiceClient(Required(options.Storage.BlobServiceUri, "Storage:BlobServiceUri"), Credential, Retry(new BlobClientOptions(), options));

    /// <summary>Azure Queue streams: their own connection string, else the queue URI, else the storage account's connection string.</summary>
    public static QueueServiceClient Queue(ConfusionMatrixOptions options)
    {
        if (options.Streams.ConnectionString is { Length: > 0 } streams)
        {
            return new QueueServiceClient(streams, Retry(new QueueClientOptions(), options));
        }

        return options.Streams.QueueServiceUri is { Length: > 0 } uri
            ? new QueueServiceClient(new Uri(uri), Credential, Retry(new QueueClientOptions(), options))
            : new QueueServiceClient(options.Storage.ConnectionString, Retry(new QueueClientOptions(), options));
    }

    private static Uri Required(string? uri, string key) =>
        uri is { Length: > 0 } ? new Uri(uri) : throw new InvalidOperationException($"{ConfusionMatrixOptions.SectionName}:{key} is not set.");

    private static T Retry<T>(T clientOptions, ConfusionMatrixOptions options)
        where T : ClientOptions
    {
        clientOptions.Retry.NetworkTimeout = options.Storage.RequestTimeout;
        clientOptions.Retry.MaxRetries = 2;
        return clientOptions;
    }
}
