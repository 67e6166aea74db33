using System.ComponentModel.DataAnnotations;
using ConfusionMatrix.Grains;
using Microsoft.Extensions.Options;

namespace ConfusionMatrix.Silo.Configuration;

/// <summary>How silos find each other (<c>ConfusionMatrix:Clustering:Provider</c>); written as its name in configuration.</summary>
public enum ClusteringProvider
{
    Localhost,
    AzureTable,
    Kubernetes,
}

/// <summary>Where grain state lives (<c>ConfusionMatrix:Storage:Provider</c>).</summary>
public enum StorageProvider
{
    Memory,
    AzureTable,
    AzureBlob,
}

/// <summary>What carries the prediction log (<c>ConfusionMatrix:Streams:Provider</c>).</summary>
public enum StreamsProvider
{
    Memory,
    AzureQueue,
    EventHubs,
}

/// <summary>
/// The <c>ConfusionMatrix</c> configuration section: the contract operators, scripts and the Helm chart rely on. Ranges
/// are data annotations (checked by the generated <see cref="ConfusionMatrixOptionsValidator"/>); rules that relate
/// settings to each other are in <see cref="Validate"/>. Every message names the key.
/// </summary>
public sealed class ConfusionMatrixOptions : IValidatableObject
{
    public const string SectionName = "ConfusionMatrix";

    [ValidateObjectMembers]
    public ClusteringOptions Clustering { get; set; } = new();

    [ValidateObjectMembers]
    public StorageOptions Storage { get; set; } = new();

    [ValidateObjectMembers]
    public StreamsOptions Streams { get; set; } = new();

    [ValidateObjectMembers]
    public ApiOptions Api { get; set; } = new();

    [ValidateObjectMembers]
    public HostOptions Host { get; set; } = new();

    /// <summary>The label join: shard count, bound per shard, sweep period (<c>ConfusionMatrix:Labels</c>).</summary>
    [ValidateObjectMembers(typeof(Grains.LabelJoinOptionsValidator))]
    public Grains.LabelJoinOptions Labels { get; set; } = new();

    /// <summary>The MLflow tracking server baselines may come from (<c>ConfusionMatrix:MLflow</c>).</summary>
    public MLflowSettings MLflow { get; set; } = new();

    /// <summary>Authentication mode, API keys, JWT issuer (<c>ConfusionMatrix:Auth</c>).</summary>
    public Security.AuthOptions Auth { get; set; } = new();

    /// <summary>The audit trail (<c>ConfusionMatrix:Audit</c>).</summary>
    [ValidateObjectMembers]
    public AuditSettings Audit { get; set; } = new();

    /// <summary>Where rollout webhooks may go (<c>ConfusionMatrix:Webhooks</c>).</summary>
    public Grains.WebhookOptions Webhooks { get; set; } = new();

    /// <summary>TLS on the Orleans silo and gateway ports (<c>ConfusionMatrix:Tls</c>).</summary>
    public TlsSettings Tls { get; set; } = new();

    /// <summary>Traces (<c>ConfusionMatrix:Telemetry</c>).</summary>
    public TelemetrySettings Telemetry { get; set; } = new();

    /// <summary>The rules that relate settings to each other or need parsing; ranges are attributes on the settings.</summary>
    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext) =>
        ConfusionMatrixOptionsValidator.CrossChecks(this).Select(message => new ValidationResult(message));
}

public sealed class AuditSettings
{
    /// <summary>Also record every read of matrices, drift reports and rollout state (one record per request).</summary>
    public bool Reads { get; set; }

    /// <summary>Records kept per model, newest first out; older ones are gone (ship the logs for longer retention).</summary>
    [Grains.SettingRange(10, Grains.AuditTrailGrain.MaxMaxRecords, ErrorMessage = "ConfusionMatrix:Audit:MaxRecordsPerModel must be between {1} and {2}.")]
    public int MaxRecordsPerModel { get; set; } = Grains.AuditTrailGrain.DefaultMaxRecords;
}

public sealed class TlsSettings
{
    /// <summary>Mutual TLS between silos and clients on the silo and gateway ports; off by default.</summary>
    public bool Enabled { get; set; }

    /// <summary>A PKCS#12 (.pfx) file with the certificate and its private key.</summary>
    public string? CertificatePath { get; set; }

    public string? CertificatePassword { get; set; }

    /// <summary>
    /// Require and check the peer's certificate (mutual TLS). The peer's chain is validated against the machine's
    /// trust store unless <see cref="AllowAnyPeerCertificate"/>.
    /// </summary>
    public bool RequireClientCertificate { get; set; } = true;

    /// <summary>Accept any peer certificate (a self-signed one shared by every silo, for instance): encryption without peer validation.</summary>
    public bool AllowAnyPeerCertificate { get; set; }
}

public sealed class TelemetrySettings
{
    /// <summary>
    /// OTLP endpoint traces are exported to; the standard <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> variable does the same.
    /// Unset and without that variable, no traces are exported.
    /// </summary>
    public string? OtlpEndpoint { get; set; }
}

public sealed class ClusteringOptions
{
    [EnumDataType(typeof(ClusteringProvider), ErrorMessage = "ConfusionMatrix:Clustering:Provider must be one of Localhost, AzureTable, Kubernetes.")]
    public ClusteringProvider Provider { get; set; } = ClusteringProvider.Localhost;

    [Grains.SettingRange(1, 65535, ErrorMessage = "ConfusionMatrix:Clustering:SiloPort must be a TCP port between {1} and {2}.")]
    public int SiloPort { get; set; } = 11111;

    [Grains.SettingRange(1, 65535, ErrorMessage = "ConfusionMatrix:Clustering:GatewayPort must be a TCP port between {1} and {2}.")]
    public int GatewayPort { get; set; } = 30000;

    [Required(AllowEmptyStrings = false, ErrorMessage = "ConfusionMatrix:Clustering:ClusterId must not be empty.")]
    public string ClusterId { get; set; } = "confusionmatrix";

    /// <summary>
    /// The IP address this silo advertises to the others (AzureTable clustering); unset picks the host's first
    /// non-loopback address. Kubernetes hosting advertises the pod IP (POD_IP) instead.
    /// </summary>
    public string? AdvertisedAddress { get; set; }

    [Required(AllowEmptyStrings = false, ErrorMessage = "ConfusionMatrix:Clustering:ServiceId must not be empty.")]
    public string ServiceId { get; set; } = "confusionmatrix";

    /// <summary>
    /// Initial liveness probe timeout (<c>00:00:05</c>); unset keeps Orleans' 5 s. With Orleans' 3 missed probes and 2
    /// votes a dead silo is declared dead in roughly 15 to 30 s at the default. Shorter detects faster and risks
    /// declaring a silo in a long GC pause dead; tests on loopback use 1 s.
    /// </summary>
    [Grains.SettingRange(typeof(TimeSpan), "00:00:01", "00:01:00", ErrorMessage = "ConfusionMatrix:Clustering:ProbeTimeout (or ProbeTimeoutSeconds) must be between 1 second and 1 minute.")]
    public TimeSpan? ProbeTimeout { get; set; }

    /// <summary><see cref="ProbeTimeout"/> in whole seconds: the earlier key, still accepted.</summary>
    public int? ProbeTimeoutSeconds { get => (int?)ProbeTimeout?.TotalSeconds; set => ProbeTimeout = value is { } s ? TimeSpan.FromSeconds(s) : null; }

    /// <summary>Missed probes before a silo is suspected; unset keeps Orleans' 3.</summary>
    [Grains.SettingRange(1, 10, ErrorMessage = "ConfusionMatrix:Clustering:MissedProbesLimit must be between {1} and {2}.")]
    public int? MissedProbesLimit { get; set; }
}

public sealed class StorageOptions
{
    [EnumDataType(typeof(StorageProvider), ErrorMessage = "ConfusionMatrix:Storage:Provider must be one of Memory, AzureTable, AzureBlob.")]
    public StorageProvider Provider { get; set; } = StorageProvider.Memory;

    /// <summary>
    /// A provider per store, overriding <see cref="Provider"/> for it (<c>ConfusionMatrix:Storage:Stores:control=AzureBlob</c>);
    /// keys are the store names of <see cref="Grains.StorageNames"/>. An Azure Table entity holds at most 960 KiB of
    /// state, which the drift watcher of a model with many classes and segments outgrows; blobs have no such limit,
    /// while the matrices, written on every batch, are cheapest on tables.
    /// </summary>
    public Dictionary<string, StorageProvider> Stores { get; set; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// The format every store writes; each reads both. Json by default because silos of earlier releases read only
    /// JSON: during a rolling upgrade keep Json until every silo runs this release, then switch to Binary, which keeps
    /// a large drift watcher within one Azure Table entity for about three times as many classes times segments.
    /// </summary>
    [EnumDataType(typeof(StorageFormat), ErrorMessage = "ConfusionMatrix:Storage:Format must be one of Json, Binary.")]
    public StorageFormat Format { get; set; } = StorageFormat.Json;

    public string? ConnectionString { get; set; }

    /// <summary>
    /// Azure Table endpoint (<c>https://{account}.table.core.windows.net</c>) reached with DefaultAzureCredential
    /// (workload identity, managed identity, environment) when there is no connection string: membership, AzureTable
    /// grain storage and Event Hubs checkpoints.
    /// </summary>
    public string? TableServiceUri { get; set; }

    /// <summary>Azure Blob endpoint for <c>AzureBlob</c> grain storage with DefaultAzureCredential.</summary>
    public string? BlobServiceUri { get; set; }

    /// <summary>
    /// Per-try network timeout of Azure Storage calls (<c>00:00:10</c>). Short, so an unreachable account fails the
    /// write (the batch is retried by its sender) instead of holding a grain for minutes.
    /// </summary>
    [Grains.SettingRange(typeof(TimeSpan), "00:00:01", "00:05:00", ErrorMessage = "ConfusionMatrix:Storage:RequestTimeout (or RequestTimeoutSeconds) must be between 1 second and 5 minutes.")]
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary><see cref="RequestTimeout"/> in whole seconds: the earlier key, still accepted.</summary>
    public int RequestTimeoutSeconds { get => (int)RequestTimeout.TotalSeconds; set => RequestTimeout = TimeSpan.FromSeconds(value); }

    /// <summary>The provider of one store: its entry in <see cref="Stores"/>, else <see cref="Provider"/>.</summary>
    public StorageProvider ProviderFor(string store)
    {
        foreach (var (name, provider) in Stores)
        {
            if (string.Equals(name, store, StringComparison.OrdinalIgnoreCase))
            {
                return provider;
            }
        }

        return Provider;
    }
}

public sealed class StreamsOptions
{
    [EnumDataType(typeof(StreamsProvider), ErrorMessage = "ConfusionMatrix:Streams:Provider must be one of Memory, AzureQueue, EventHubs.")]
    public StreamsProvider Provider { get; set; } = StreamsProvider.Memory;

    public string? ConnectionString { get; set; }

    public string? EventHubName { get; set; }

    /// <summary>Event Hubs namespace host (<c>{namespace}.servicebus.windows.net</c>) reached with DefaultAzureCredential.</summary>
    public string? FullyQualifiedNamespace { get; set; }

    /// <summary>Azure Queue endpoint (<c>https://{account}.queue.core.windows.net</c>) reached with DefaultAzureCredential.</summary>
    public string? QueueServiceUri { get; set; }

    public string ConsumerGroup { get; set; } = "$Default";

    /// <summary>Queues (partitions); more queues spread version routers over more pulling agents.</summary>
    [Grains.SettingRange(1, 256, ErrorMessage = "ConfusionMatrix:Streams:QueueCount must be between {1} and {2}.")]
    public int QueueCount { get; set; } = 8;

    /// <summary>
    /// How long a batch's delivery is retried (storage down, a silo lost) before Orleans would skip it. Default 7 days:
    /// skipping an acknowledged batch is losing predictions, so delivery stalls and retries instead; an outage that
    /// long needs a human anyway.
    /// </summary>
    [Grains.SettingRange(typeof(TimeSpan), "00:01:00", "30.00:00:00", ErrorMessage = "ConfusionMatrix:Streams:MaxDeliveryTime (or MaxDeliverySeconds) must be between 1 minute and 30 days.")]
    public TimeSpan MaxDeliveryTime { get; set; } = TimeSpan.FromDays(7);

    /// <summary><see cref="MaxDeliveryTime"/> in whole seconds: the earlier key, still accepted.</summary>
    public int MaxDeliverySeconds { get => (int)MaxDeliveryTime.TotalSeconds; set => MaxDeliveryTime = TimeSpan.FromSeconds(value); }

    /// <summary>
    /// Poll period of the pulling agents (<c>00:00:00.050</c>); unset means 10 ms for memory streams and 100 ms for Azure Queue.
    /// The period is the floor of update-to-visible latency (measured p50: 8 ms at 10 ms, 100 ms at Orleans' 100 ms),
    /// and polling an idle memory queue costs next to nothing. Azure Queue polls are storage transactions, so it keeps
    /// Orleans' 100 ms unless set.
    /// </summary>
    [Grains.SettingRange(typeof(TimeSpan), "00:00:00.005", "00:00:10", ErrorMessage = "ConfusionMatrix:Streams:PollPeriod (or PollMilliseconds) must be between 5 ms and 10 seconds.")]
    public TimeSpan? PollPeriod { get; set; }

    /// <summary><see cref="PollPeriod"/> in whole milliseconds: the earlier key, still accepted.</summary>
    public int? PollMilliseconds { get => (int?)PollPeriod?.TotalMilliseconds; set => PollPeriod = value is { } ms ? TimeSpan.FromMilliseconds(ms) : null; }

    public TimeSpan EffectivePollPeriod(bool azureQueue) => PollPeriod ?? TimeSpan.FromMilliseconds(azureQueue ? 100 : 10);

    /// <summary>
    /// Queued batches of one stream handed to its version router in one delivery (memory and Azure Queue streams).
    /// Default 16: under backlog, a segment then applies up to 16 batches with one call and one write, which is what
    /// bounds throughput; each batch keeps its own replay check. Event Hubs keeps Orleans' default of one.
    /// </summary>
    [Grains.SettingRange(1, 256, ErrorMessage = "ConfusionMatrix:Streams:DeliveryBatchSize must be between {1} and {2}.")]
    public int DeliveryBatchSize { get; set; } = 16;

    /// <summary>Azure Queue message visibility timeout: how soon an unfinished message is delivered again.</summary>
    [Grains.SettingRange(typeof(TimeSpan), "00:00:01", "01:00:00", ErrorMessage = "ConfusionMatrix:Streams:VisibilityTimeout (or VisibilitySeconds) must be between 1 second and 1 hour.")]
    public TimeSpan VisibilityTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary><see cref="VisibilityTimeout"/> in whole seconds: the earlier key, still accepted.</summary>
    public int VisibilitySeconds { get => (int)VisibilityTimeout.TotalSeconds; set => VisibilityTimeout = TimeSpan.FromSeconds(value); }
}

public sealed class ApiOptions
{
    /// <summary>Largest request body accepted, in bytes; larger ones get 413. 64 MiB holds about 200k predictions.</summary>
    [Grains.SettingRange(1024L, 1L << 30, ErrorMessage = "ConfusionMatrix:Api:MaxRequestBytes must be between {1} and {2}.")]
    public long MaxRequestBytes { get; set; } = 64L * 1024 * 1024;

    /// <summary>Predictions per stream event. Big enough to amortise per-message cost, small enough that an Event Hubs event (about 200 bytes a prediction as NDJSON) stays well under its 1 MB limit.</summary>
    [Grains.SettingRange(1, 65_536, ErrorMessage = "ConfusionMatrix:Api:MaxBatchSize must be between {1} and {2}.")]
    public int MaxBatchSize { get; set; } = 2000;
}

public sealed class HostOptions
{
    /// <summary>How long a stopping silo may take to hand over its grains; Kubernetes' grace period must be longer.</summary>
    [Grains.SettingRange(typeof(TimeSpan), "00:00:01", "00:10:00", ErrorMessage = "ConfusionMatrix:Host:ShutdownTimeout (or ShutdownTimeoutSeconds) must be between 1 second and 10 minutes.")]
    public TimeSpan ShutdownTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary><see cref="ShutdownTimeout"/> in whole seconds: the earlier key, still accepted (the Helm chart sets it).</summary>
    public int ShutdownTimeoutSeconds { get => (int)ShutdownTimeout.TotalSeconds; set => ShutdownTimeout = TimeSpan.FromSeconds(value); }
}

/// <summary>The MLflow tracking server that <c>PUT …/baseline</c> with <c>{"mlflow":{…}}</c> resolves baselines from.</summary>
public sealed class MLflowSettings
{
    /// <summary>Unset: baselines by MLflow alias or version are refused with a clear 400.</summary>
    public string? TrackingUri { get; set; }

    /// <summary>Sent as a bearer token (MLflow's MLFLOW_TRACKING_TOKEN).</summary>
    public string? Token { get; set; }
}
