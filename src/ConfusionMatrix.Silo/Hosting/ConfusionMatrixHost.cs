using Azure.Data.Tables;
using Azure.Storage.Blobs;
using Azure.Storage.Queues;
using ConfusionMatrix.Abstractions;
using ConfusionMatrix.Grains;
using ConfusionMatrix.Silo.Api;
using ConfusionMatrix.Silo.Configuration;
using ConfusionMatrix.Silo.Security;
using ConfusionMatrix.Streaming.EventHubs;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using Orleans.Configuration;
using Orleans.Dashboard;

namespace ConfusionMatrix.Silo.Hosting;

/// <summary>Tags of the health checks: <c>/health/live</c> runs the live ones, <c>/health/ready</c> (and <c>/health</c>) the ready ones.</summary>
public static class HealthTags
{
    public const string Live = "live";

    public const string Ready = "ready";
}

/// <summary>Builds the silo host: Orleans, the HTTP API, the dashboard, /metrics and /health on one Kestrel port.</summary>
public static class ConfusionMatrixHost
{
    public const string DefaultUrl = "http://127.0.0.1:8080";

    /// <summary>Reads and checks the configuration; returns the first problem as one line, or null.</summary>
    public static string? TryReadOptions(IConfiguration configuration, out ConfusionMatrixOptions options)
    {
        options = new ConfusionMatrixOptions();
        if (UnknownProvider(configuration) is { } unknown)
        {
            return unknown;
        }

        try
        {
            configuration.GetSection(ConfusionMatrixOptions.SectionName).Bind(options);
        }
        catch (InvalidOperationException ex)
        {
            // The binder's message names the key and the value it could not convert.
            return ex.Message;
        }

        var errors = ConfusionMatrixOptionsValidator.Check(options);
        return errors.Count > 0 ? errors[0] : ConfusionMatrixOptionsValidator.CheckListenAddresses(ListenUrls(configuration), options.Auth);
    }

    /// <summary>A provider name that is not one of its enum's names, as one line naming the key and the choices; or null.</summary>
    private static string? UnknownProvider(IConfiguration configuration)
    {
        return Check<ClusteringProvider>($"{ConfusionMatrixOptions.SectionName}:Clustering:Provider")
            ?? Check<StorageProvider>($"{ConfusionMatrixOptions.SectionName}:Storage:Provider")
            ?? configuration.GetSection($"{ConfusionMatrixOptions.SectionName}:Storage:Stores").GetChildren().Select(store => Check<StorageProvider>(store.Path)).FirstOrDefault(p => p is not null)
            ?? Check<StorageFormat>($"{ConfusionMatrixOptions.SectionName}:Storage:Format")
            ?? Check<StreamsProvider>($"{ConfusionMatrixOptions.SectionName}:Streams:Provider");

        string? Check<TProvider>(string key)
            where TProvider : struct, Enum
        {
            var value = configuration[key];
            return value is null || (Enum.TryParse<TProvider>(value, ignoreCase: true, out var parsed) && Enum.IsDefined(parsed))
                ? null
                : $"{key} must be one of {string.Join(", ", Enum.GetNames<TProvider>())} (got '{value}').";
        }
    }

    /// <summary>Every HTTP address Kestrel will listen on: <c>urls</c> (or the default) and named Kestrel endpoints.</summary>
    public static IReadOnlyList<string> ListenUrls(IConfiguration configuration)
    {
        var urls = configuration["urls"] is { Length: > 0 } u ? u : configuration["ASPNETCORE_URLS"] is { Length: > 0 } a ? a : DefaultUrl;
        var endpoints = configuration.GetSection("Kestrel:Endpoints").GetChildren().Select(e => e["Url"]).OfType<string>();
        return [.. urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries), .. endpoints];
    }

    public static WebApplication Build(WebApplicationBuilder builder, ConfusionMatrixOptions options)
    {
        if (string.IsNullOrEmpty(builder.Configuration["urls"]) && string.IsNullOrEmpty(builder.Configuration["ASPNETCORE_URLS"]))
        {
            builder.WebHost.UseUrls(DefaultUrl);
        }

        builder.WebHost.ConfigureKestrel(k => k.Limits.MaxRequestBodySize = options.Api.MaxRequestBytes);
        builder.Services.Configure<Microsoft.Extensions.Hosting.HostOptions>(h => h.ShutdownTimeout = options.Host.ShutdownTimeout);

        // Bound and checked once, by TryReadOptions, before the host is built; everything after uses that instance.
        builder.Services.AddSingleton(Microsoft.Extensions.Options.Options.Create(options));

        builder.UseOrleans(silo => ConfigureSilo(silo, options));
        builder.Services.AddConfusionMatrixGrainServices();
        builder.Services.Configure<AuditTrailOptions>(a => a.MaxRecords = options.Audit.MaxRecordsPerModel);
        builder.Services.Configure<WebhookOptions>(w => w.AllowedHosts = [.. options.Webhooks.AllowedHosts]);
        builder.Services.AddConfusionMatrixSecurity(options.Auth);
        builder.Services.AddConfusionMatrixApi();
        builder.Services.AddProblemDetails();
        builder.Services.AddExceptionHandler<ApiExceptionHandler>();
        // The document describes the HTTP API under /api, not the dashboard's own endpoints.
        builder.Services.AddOpenApi(o => o.ShouldInclude = description => description.RelativePath?.StartsWith("api/", StringComparison.Ordinal) == true);
        builder.Services.ConfigureHttpJsonOptions(json => ConfigureJson(json.SerializerOptions));
        // Liveness asks only whether this process answers: a slow membership table or storage account must take the
        // silos out of the load balancer (readiness), never restart them all at once.
        builder.Services.AddHealthChecks()
            .AddCheck("process", () => HealthCheckResult.Healthy("the process answers"), tags: [HealthTags.Live])
            .AddCheck<ClusterHealthCheck>("orleans", tags: [HealthTags.Ready])
            .AddCheck<StorageHealthCheck>("storage", tags: [HealthTags.Ready]);
        var telemetry = builder.Services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService("confusionmatrix-actors"))
            .WithMetrics(metrics => metrics
            .AddMeter(ConfusionMatrixInstruments.MeterName)
            .AddMeter("Microsoft.Orleans")

            // The quality gauges bound themselves (and count what they drop); the SDK's default of 2000 points per
            // metric would otherwise cut them first, silently.
            .AddView("confusionmatrix.model.class_quality", new MetricStreamConfiguration { CardinalityLimit = ModelQualityGauges.MaxSeries })
            .AddView("confusionmatrix.model.segment_drift", new MetricStreamConfiguration { CardinalityLimit = ModelQualityGauges.MaxSeries })
            .AddAspNetCoreInstrumentation()
            .AddRuntimeInstrumentation()
            .AddPrometheusExporter());
        var configuredEndpoint = options.Telemetry.OtlpEndpoint;
        if (!string.IsNullOrWhiteSpace(configuredEndpoint) || !string.IsNullOrWhiteSpace(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]))
        {
            // HTTP intake → stream → version router → segment grains → drift watcher, as one trace per request.
            telemetry.WithTracing(tracing => tracing
                .AddSource(ConfusionMatrixInstruments.ActivitySourceName)
                .AddSource("Microsoft.Orleans.Runtime")
                .AddSource("Microsoft.Orleans.Application")
                .AddAspNetCoreInstrumentation(o => o.Filter = http => !http.Request.Path.StartsWithSegments("/health") && !http.Request.Path.StartsWithSegments("/metrics"))
                .AddOtlpExporter(o =>
                {
                    // Without the key the exporter reads the standard OTEL_EXPORTER_OTLP_* variables itself.
                    if (!string.IsNullOrWhiteSpace(configuredEndpoint))
                    {
                        o.Endpoint = new Uri(configuredEndpoint);
                    }
                }));
        }

        var app = builder.Build();
        if (options.Auth.UsesApiKeys && app.Services.GetRequiredService<ApiKeyStore>().Count == 0 && !options.Auth.UsesJwt)
        {
            Security.Log.NoApiKeys(app.Logger, options.Auth.Mode);
        }

        app.UseExceptionHandler();
        app.UseStatusCodePages();

        // The operator page's files are public (they hold no data; every API call needs a key), so they are served
        // before authentication; the fallback policy would otherwise refuse them.
        UseOperatorPage(app);
        app.UseAuthentication();
        app.UseAuthorization();
        var metrics = app.MapPrometheusScrapingEndpoint("/metrics");
        if (string.IsNullOrEmpty(options.Auth.MetricsRole))
        {
            metrics.AllowAnonymous();
        }
        else
        {
            metrics.RequireAuthorization(options.Auth.MetricsRole);
        }

        app.MapHealthChecks("/health", new HealthCheckOptions { Predicate = check => check.Tags.Contains(HealthTags.Ready) }).AllowAnonymous();
        app.MapHealthChecks("/health/ready", new HealthCheckOptions { Predicate = check => check.Tags.Contains(HealthTags.Ready) }).AllowAnonymous();
        app.MapHealthChecks("/health/live", new HealthCheckOptions { Predicate = check => check.Tags.Contains(HealthTags.Live) }).AllowAnonymous();

        // The dashboard shows grain state and silo internals: operators only.
        app.MapOrleansDashboard(routePrefix: "/dashboard").RequireAuthorization(Roles.Operator);
        app.MapConfusionMatrixApi();
        app.MapRolloutApi();
        app.MapConfusionMatrixEstimation();
        app.MapAuditApi();

        // The contract as an OpenAPI document at /openapi/v1.json, for whoever may read the API.
        app.MapOpenApi().RequireAuthorization(Roles.Viewer);
        app.MapGet("/", () => Results.Redirect("/dashboard/")).AllowAnonymous();
        return app;
    }

    /// <summary>
    /// The operator page: plain files under wwwroot/ui that call the API from the browser. They are read from next to the
    /// binaries, so the page is there whatever the working directory; the files hold no data, the API calls need a key.
    /// </summary>
    private static void UseOperatorPage(WebApplication app)
    {
        var webRoot = Path.Combine(AppContext.BaseDirectory, "wwwroot");
        if (!Directory.Exists(webRoot))
        {
            return;
        }

        var files = new Microsoft.Extensions.FileProviders.PhysicalFileProvider(webRoot);
        app.UseDefaultFiles(new DefaultFilesOptions { FileProvider = files });
        app.UseStaticFiles(new StaticFileOptions
        {
            FileProvider = files,

            // A new silo version must not run an old page's script against a changed API.
            OnPrepareResponse = file => file.Context.Response.Headers.CacheControl = "no-cache",
        });
    }

    private static void ConfigureSilo(ISiloBuilder silo, ConfusionMatrixOptions options)
    {
        var clustering = options.Clustering;
        silo.Configure<ClusterOptions>(c =>
        {
            c.ClusterId = clustering.ClusterId;
            c.ServiceId = clustering.ServiceId;
        });
        var storageConnection = options.Storage.ConnectionString;
        if (clustering.Provider == ClusteringProvider.Localhost)
        {
            silo.UseLocalhostClustering(clustering.SiloPort, clustering.GatewayPort, serviceId: clustering.ServiceId, clusterId: clustering.ClusterId);
        }
        else
        {
            // Membership lives in an Azure table of the storage account; on Kubernetes the pod's own IP is advertised.
            silo.UseAzureStorageClustering(o => o.TableServiceClient = AzureClients.Table(options));
            if (clustering.AdvertisedAddress is { } advertised)
            {
                silo.ConfigureEndpoints(System.Net.IPAddress.Parse(advertised), clustering.SiloPort, clustering.GatewayPort, listenOnAnyHostAddress: true);
            }
            else if (clustering.Provider == ClusteringProvider.Kubernetes)
            {
                // Advertise the pod IP from the downward API. Orleans' own default (the host's first address) is applied
                // before Kubernetes hosting's, which then keeps it; Kubernetes hosting listens on every address.
                silo.Configure<EndpointOptions>(e =>
                {
                    e.SiloPort = clustering.SiloPort;
                    e.GatewayPort = clustering.GatewayPort;
                    if (System.Net.IPAddress.TryParse(Environment.GetEnvironmentVariable("POD_IP"), out var podIp))
                    {
                        e.AdvertisedIPAddress = podIp;
                    }
                });
            }
            else
            {
                silo.ConfigureEndpoints(clustering.SiloPort, clustering.GatewayPort, listenOnAnyHostAddress: true);
            }

            if (clustering.Provider == ClusteringProvider.Kubernetes)
            {
                silo.UseKubernetesHosting();
            }
        }

        silo.Configure<ClusterMembershipOptions>(m =>
        {
            if (clustering.ProbeTimeout is { } probe)
            {
                m.ProbeTimeout = probe;
            }

            if (clustering.MissedProbesLimit is { } missed)
            {
                m.NumMissedProbesLimit = missed;
            }
        });

        AddStorageAndStreams(silo, options);
        if (options.Tls.Enabled)
        {
            UseTls(silo, options.Tls);
        }

        silo.AddDashboard(d => d.CounterUpdateIntervalMs = 2000);

        // Grain calls carry the caller's trace context; spans exist only while a tracer listens (OTLP configured).
        silo.AddActivityPropagation();
    }

    /// <summary>
    /// The HTTP API's JSON on top of ASP.NET Core's web defaults (camelCase names): enums as camelCase strings. One
    /// method, so the contract tests serialise with exactly what the silo answers with.
    /// </summary>
    public static void ConfigureJson(System.Text.Json.JsonSerializerOptions json) =>
        json.Converters.Add(new System.Text.Json.Serialization.JsonStringEnumConverter(System.Text.Json.JsonNamingPolicy.CamelCase));

    /// <summary>Grain storage and the prediction-log stream as configured; shared by the host and the cluster tests.</summary>
    public static void AddStorageAndStreams(ISiloBuilder silo, ConfusionMatrixOptions options)
    {
        var format = options.Storage.Format;
        foreach (var name in StorageNames.All)
        {
            silo.Services.AddStorageFormat(name, format);
            switch (options.Storage.ProviderFor(name))
            {
                case StorageProvider.AzureTable:
                    silo.AddAzureTableGrainStorage(name, o => o.TableServiceClient = AzureClients.Table(options));
                    break;
                case StorageProvider.AzureBlob:
                    silo.AddAzureBlobGrainStorage(name, o => o.BlobServiceClient = AzureClients.Blob(options));
                    break;
                default:
                    silo.AddMemoryGrainStorage(name);
                    break;
            }
        }

        // An Azure Table entity refuses a state over 960 KiB; the drift watcher's grows with classes times segments.
        if (options.Storage.ProviderFor(StorageNames.Control) == StorageProvider.AzureTable)
        {
            silo.Services.Configure<DriftWatcherOptions>(o => o.StateWarningBytes ??= DriftWatcherOptions.DefaultStateWarningBytes);
        }

        // Memory storage survives no crash, so a write per segment per batch would buy nothing: checkpoint instead.
        var durableStorage = options.Storage.ProviderFor(StorageNames.Matrices) != StorageProvider.Memory;
        silo.Services.Configure<SegmentMatrixOptions>(o => o.WriteBeforeAcknowledge = durableStorage);
        silo.Services.Configure<LabelJoinOptions>(o =>
        {
            o.ShardCount = options.Labels.ShardCount;
            o.MaxEntriesPerShard = options.Labels.MaxEntriesPerShard;
            o.SweepInterval = options.Labels.SweepInterval;
        });

        var maxDelivery = options.Streams.MaxDeliveryTime;
        if (options.Streams.Provider == StreamsProvider.AzureQueue)
        {
            silo.AddAzureQueueStreams(PredictionLog.StreamProvider, streams =>
            {
                streams.ConfigureAzureQueue(ob => ob.Configure(o => ConfigureQueues(o, options)));
                streams.ConfigureStreamPubSub(Orleans.Streams.StreamPubSubType.ImplicitOnly);
                streams.ConfigurePullingAgent(ob => ob.Configure(o =>
                {
                    o.MaxEventDeliveryTime = maxDelivery;
                    o.GetQueueMsgsTimerPeriod = options.Streams.EffectivePollPeriod(azureQueue: true);
                    o.BatchContainerBatchSize = options.Streams.DeliveryBatchSize;
                }));
            });
        }
        else if (options.Streams.Provider == StreamsProvider.EventHubs)
        {
            var streams = options.Streams;
            silo.AddPredictionLogEventHubs(
                PredictionLog.StreamProvider,
                hub =>
                {
                    if (streams.ConnectionString is { Length: > 0 } connection)
                    {
                        hub.ConfigureEventHubConnection(connection, streams.EventHubName!, streams.ConsumerGroup);
                    }
                    else
                    {
                        hub.ConfigureEventHubConnection(streams.FullyQualifiedNamespace!, streams.EventHubName!, streams.ConsumerGroup, AzureClients.Credential);
                    }
                },
                () => AzureClients.Table(options),
                maxEventDeliveryTime: maxDelivery);
        }
        else
        {
            silo.AddMemoryStreams(PredictionLog.StreamProvider, streams =>
            {
                streams.ConfigurePartitioning(options.Streams.QueueCount);
                streams.ConfigureStreamPubSub(Orleans.Streams.StreamPubSubType.ImplicitOnly);
                streams.ConfigurePullingAgent(ob => ob.Configure(o =>
                {
                    o.MaxEventDeliveryTime = maxDelivery;
                    o.GetQueueMsgsTimerPeriod = options.Streams.EffectivePollPeriod(azureQueue: false);
                    o.BatchContainerBatchSize = options.Streams.DeliveryBatchSize;
                }));
            });
        }
    }

    /// <summary>TLS on the silo-to-silo and gateway connections, with one certificate from a .pfx file.</summary>
    private static void UseTls(ISiloBuilder silo, TlsSettings tls)
    {
        var certificate = System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadPkcs12FromFile(tls.CertificatePath!, tls.CertificatePassword);
        silo.UseTls(certificate, o =>
        {
            o.RemoteCertificateMode = tls.RequireClientCertificate ? Orleans.Connections.Security.RemoteCertificateMode.RequireCertificate : Orleans.Connections.Security.RemoteCertificateMode.AllowCertificate;
            o.ClientCertificateMode = tls.RequireClientCertificate ? Orleans.Connections.Security.RemoteCertificateMode.RequireCertificate : Orleans.Connections.Security.RemoteCertificateMode.AllowCertificate;
            if (tls.AllowAnyPeerCertificate)
            {
                o.AllowAnyRemoteCertificate();
            }
        });
    }

    /// <summary>The prediction-log queues; an Orleans client publishing to them configures the same names.</summary>
    public static void ConfigureQueues(AzureQueueOptions o, ConfusionMatrixOptions options)
    {
        o.QueueServiceClient = AzureClients.Queue(options);
        o.QueueNames = [.. Enumerable.Range(0, options.Streams.QueueCount).Select(i => $"{options.Clustering.ServiceId}-prediction-log-{i}")];

        // A message being retried stays invisible this long before another pulling agent may take it.
        o.MessageVisibilityTimeout = options.Streams.VisibilityTimeout;
    }

}
