namespace ConfusionMatrix.Silo.Configuration;

/// <summary>The <c>ConfusionMatrix</c> configuration section: the contract operators, scripts and the Helm chart rely on.</summary>
public sealed class ConfusionMatrixOptions
{
    public const string SectionName = "ConfusionMatrix";

    public ClusteringOptions Clustering { get; set; } = new();

    public StorageOptions Storage { get; set; } = new();

    public StreamsOptions Streams { get; set; } = new();

    public ApiOptions Api { get; set; } = new();

    public HostOptions Host { get; set; } = new();
}

public sealed class ClusteringOptions
{
    public static readonly string[] Providers = ["Localhost", "AzureTable", "Kubernetes"];

    public string Provider { get; set; } = "Localhost";

    public int SiloPort { get; set; } = 11111;

    public int GatewayPort { get; set; } = 30000;

    public string ClusterId { get; set; } = "confusionmatrix";

    public string ServiceId { get; set; } = "confusionmatrix";
}

public sealed class StorageOptions
{
    public static readonly string[] Providers = ["Memory", "AzureTable", "AzureBlob"];

    public string Provider { get; set; } = "Memory";

    public string? ConnectionString { get; set; }
}

public sealed class StreamsOptions
{
    /// <summary>EventHubs needs the raw-JSON data adapter of the durable-ingestion work and is refused until it ships.</summary>
    public static readonly string[] Providers = ["Memory", "AzureQueue"];

    public string Provider { get; set; } = "Memory";

    public string? ConnectionString { get; set; }

    public string? EventHubName { get; set; }

    public string ConsumerGroup { get; set; } = "$Default";

    /// <summary>Queues (partitions) of the memory stream provider; more queues spread version routers over more pulling agents.</summary>
    public int QueueCount { get; set; } = 8;
}

public sealed class ApiOptions
{
    /// <summary>Largest request body accepted, in bytes; larger ones get 413. 64 MiB holds about 200k predictions.</summary>
    public long MaxRequestBytes { get; set; } = 64L * 1024 * 1024;

    /// <summary>Predictions per stream event. Big enough to amortise per-message cost, small enough to keep events well under a megabyte.</summary>
    public int MaxBatchSize { get; set; } = 4096;
}

public sealed class HostOptions
{
    /// <summary>How long a stopping silo may take to hand over its grains; Kubernetes' grace period must be longer.</summary>
    public int ShutdownTimeoutSeconds { get; set; } = 30;
}
