using Microsoft.Extensions.Options;

namespace ConfusionMatrix.Silo.Configuration;

/// <summary>Checks the configuration contract. Every message names the key, so a bad deployment fails with one clear line.</summary>
public sealed class ConfusionMatrixOptionsValidator : IValidateOptions<ConfusionMatrixOptions>
{
    private const string Prefix = ConfusionMatrixOptions.SectionName;

    public ValidateOptionsResult Validate(string? name, ConfusionMatrixOptions options)
    {
        var errors = Check(options);
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    public static List<string> Check(ConfusionMatrixOptions o)
    {
        var errors = new List<string>();
        OneOf(errors, $"{Prefix}:Clustering:Provider", o.Clustering.Provider, ClusteringOptions.Providers);
        OneOf(errors, $"{Prefix}:Storage:Provider", o.Storage.Provider, StorageOptions.Providers);
        OneOf(errors, $"{Prefix}:Streams:Provider", o.Streams.Provider, StreamsOptions.Providers);
        Port(errors, $"{Prefix}:Clustering:SiloPort", o.Clustering.SiloPort);
        Port(errors, $"{Prefix}:Clustering:GatewayPort", o.Clustering.GatewayPort);
        if (o.Clustering.SiloPort == o.Clustering.GatewayPort)
        {
            errors.Add($"{Prefix}:Clustering:GatewayPort must differ from {Prefix}:Clustering:SiloPort (both are {o.Clustering.SiloPort}).");
        }

        ServiceUri(errors, $"{Prefix}:Storage:TableServiceUri", o.Storage.TableServiceUri);
        ServiceUri(errors, $"{Prefix}:Storage:BlobServiceUri", o.Storage.BlobServiceUri);
        ServiceUri(errors, $"{Prefix}:Streams:QueueServiceUri", o.Streams.QueueServiceUri);
        var hasStorageConnection = !string.IsNullOrWhiteSpace(o.Storage.ConnectionString);
        var needsTables = Is(o.Storage.Provider, "AzureTable") || !Is(o.Clustering.Provider, "Localhost");
        if (needsTables && !hasStorageConnection && string.IsNullOrWhiteSpace(o.Storage.TableServiceUri))
        {
            errors.Add($"{Prefix}:Storage:ConnectionString (or {Prefix}:Storage:TableServiceUri with an Azure identity) is required for Storage:Provider={o.Storage.Provider} and Clustering:Provider={o.Clustering.Provider} (use UseDevelopmentStorage=true for Azurite).");
        }

        if (Is(o.Storage.Provider, "AzureBlob") && !hasStorageConnection && string.IsNullOrWhiteSpace(o.Storage.BlobServiceUri))
        {
            errors.Add($"{Prefix}:Storage:ConnectionString (or {Prefix}:Storage:BlobServiceUri with an Azure identity) is required for Storage:Provider=AzureBlob (use UseDevelopmentStorage=true for Azurite).");
        }

        if (Is(o.Streams.Provider, "AzureQueue") && string.IsNullOrWhiteSpace(o.Streams.ConnectionString ?? o.Storage.ConnectionString) && string.IsNullOrWhiteSpace(o.Streams.QueueServiceUri))
        {
            errors.Add($"{Prefix}:Streams:ConnectionString (or {Prefix}:Streams:QueueServiceUri with an Azure identity) is required for Streams:Provider=AzureQueue.");
        }

        if (Is(o.Streams.Provider, "EventHubs"))
        {
            if (string.IsNullOrWhiteSpace(o.Streams.ConnectionString) && string.IsNullOrWhiteSpace(o.Streams.FullyQualifiedNamespace))
            {
                errors.Add($"{Prefix}:Streams:ConnectionString (or {Prefix}:Streams:FullyQualifiedNamespace with an Azure identity) is required for Streams:Provider=EventHubs.");
            }

            if (string.IsNullOrWhiteSpace(o.Streams.EventHubName))
            {
                errors.Add($"{Prefix}:Streams:EventHubName is required for Streams:Provider=EventHubs.");
            }

            if (!hasStorageConnection && string.IsNullOrWhiteSpace(o.Storage.TableServiceUri))
            {
                errors.Add($"{Prefix}:Storage:ConnectionString (or {Prefix}:Storage:TableServiceUri) is required for Streams:Provider=EventHubs: partition checkpoints live in its tables.");
            }
        }

        if (new Grains.LabelJoinOptionsValidator().Validate(null, o.Labels) is { Failed: true } labels)
        {
            errors.Add(labels.FailureMessage);
        }

        if (o.Clustering.AdvertisedAddress is { } advertised && !System.Net.IPAddress.TryParse(advertised, out _))
        {
            errors.Add($"{Prefix}:Clustering:AdvertisedAddress must be an IP address (got '{advertised}').");
        }

        if (o.Clustering.ProbeTimeoutSeconds is < 1 or > 60)
        {
            errors.Add($"{Prefix}:Clustering:ProbeTimeoutSeconds must be between 1 and 60 (got {o.Clustering.ProbeTimeoutSeconds}).");
        }

        if (o.Clustering.MissedProbesLimit is < 1 or > 10)
        {
            errors.Add($"{Prefix}:Clustering:MissedProbesLimit must be between 1 and 10 (got {o.Clustering.MissedProbesLimit}).");
        }

        if (o.MLflow.TrackingUri is { } tracking
            && (!Uri.TryCreate(tracking, UriKind.Absolute, out var trackingUri) || (trackingUri.Scheme != Uri.UriSchemeHttp && trackingUri.Scheme != Uri.UriSchemeHttps)))
        {
            errors.Add($"{Prefix}:MLflow:TrackingUri must be an absolute http(s) URL (got '{tracking}').");
        }

        if (!string.IsNullOrEmpty(o.MLflow.Token) && string.IsNullOrWhiteSpace(o.MLflow.TrackingUri))
        {
            errors.Add($"{Prefix}:MLflow:Token is set but {Prefix}:MLflow:TrackingUri is not.");
        }

        NotBlank(errors, $"{Prefix}:Clustering:ClusterId", o.Clustering.ClusterId);
        NotBlank(errors, $"{Prefix}:Clustering:ServiceId", o.Clustering.ServiceId);
        if (o.Streams.QueueCount is < 1 or > 256)
        {
            errors.Add($"{Prefix}:Streams:QueueCount must be between 1 and 256 (got {o.Streams.QueueCount}).");
        }

        if (o.Storage.RequestTimeoutSeconds is < 1 or > 300)
        {
            errors.Add($"{Prefix}:Storage:RequestTimeoutSeconds must be between 1 and 300 (got {o.Storage.RequestTimeoutSeconds}).");
        }

        if (o.Streams.MaxDeliverySeconds is < 60 or > 30 * 24 * 3600)
        {
            errors.Add($"{Prefix}:Streams:MaxDeliverySeconds must be between 60 and 2592000 (got {o.Streams.MaxDeliverySeconds}).");
        }

        if (o.Streams.PollMilliseconds is < 5 or > 10_000)
        {
            errors.Add($"{Prefix}:Streams:PollMilliseconds must be between 5 and 10000 (got {o.Streams.PollMilliseconds}).");
        }

        if (o.Streams.DeliveryBatchSize is < 1 or > 256)
        {
            errors.Add($"{Prefix}:Streams:DeliveryBatchSize must be between 1 and 256 (got {o.Streams.DeliveryBatchSize}).");
        }

        if (o.Streams.VisibilitySeconds is < 1 or > 3600)
        {
            errors.Add($"{Prefix}:Streams:VisibilitySeconds must be between 1 and 3600 (got {o.Streams.VisibilitySeconds}).");
        }

        if (o.Api.MaxRequestBytes is < 1024 or > 1L << 30)
        {
            errors.Add($"{Prefix}:Api:MaxRequestBytes must be between 1024 and 1073741824 (got {o.Api.MaxRequestBytes}).");
        }

        if (o.Api.MaxBatchSize is < 1 or > 65_536)
        {
            errors.Add($"{Prefix}:Api:MaxBatchSize must be between 1 and 65536 (got {o.Api.MaxBatchSize}).");
        }

        if (o.Host.ShutdownTimeoutSeconds is < 1 or > 600)
        {
            errors.Add($"{Prefix}:Host:ShutdownTimeoutSeconds must be between 1 and 600 (got {o.Host.ShutdownTimeoutSeconds}).");
        }

        CheckAuth(errors, o.Auth);
        if (o.Audit.MaxRecordsPerModel is < 10 or > Grains.AuditTrailGrain.MaxMaxRecords)
        {
            errors.Add($"{Prefix}:Audit:MaxRecordsPerModel must be between 10 and {Grains.AuditTrailGrain.MaxMaxRecords} (got {o.Audit.MaxRecordsPerModel}).");
        }

        foreach (var host in o.Webhooks.AllowedHosts)
        {
            if (Grains.WebhookTargetPolicy.ParseRule(host) is null)
            {
                errors.Add($"{Prefix}:Webhooks:AllowedHosts entry '{host}' must be a host name, *.domain, an IP address or a CIDR range.");
            }
        }

        if (o.Tls.Enabled && string.IsNullOrWhiteSpace(o.Tls.CertificatePath))
        {
            errors.Add($"{Prefix}:Tls:CertificatePath (a .pfx file) is required when {Prefix}:Tls:Enabled is true.");
        }
        else if (o.Tls.Enabled && !File.Exists(o.Tls.CertificatePath))
        {
            errors.Add($"{Prefix}:Tls:CertificatePath '{o.Tls.CertificatePath}' does not exist.");
        }

        if (o.Telemetry.OtlpEndpoint is { Length: > 0 } otlp && !Uri.TryCreate(otlp, UriKind.Absolute, out _))
        {
            errors.Add($"{Prefix}:Telemetry:OtlpEndpoint must be an absolute URL (got '{otlp}').");
        }

        return errors;
    }

    private static void CheckAuth(List<string> errors, Security.AuthOptions auth)
    {
        OneOf(errors, $"{Prefix}:Auth:Mode", auth.Mode, Security.AuthOptions.Modes);
        foreach (var (name, key) in auth.ApiKeys)
        {
            var at = $"{Prefix}:Auth:ApiKeys:{name}";
            if (string.IsNullOrEmpty(key.Key))
            {
                errors.Add($"{at}:Key must not be empty.");
            }
            else if (key.Key.StartsWith(Security.ApiKeyStore.Prefix, StringComparison.OrdinalIgnoreCase)
                && (key.Key.Length != Security.ApiKeyStore.Prefix.Length + 64 || !key.Key[Security.ApiKeyStore.Prefix.Length..].All(char.IsAsciiHexDigit)))
            {
                errors.Add($"{at}:Key must be the key itself or sha256: followed by the 64 hex digits of its SHA-256.");
            }
            else if (!key.Key.StartsWith(Security.ApiKeyStore.Prefix, StringComparison.OrdinalIgnoreCase) && key.Key.Length < 16)
            {
                errors.Add($"{at}:Key must be at least 16 characters long (got {key.Key.Length}).");
            }

            var roles = Security.ApiKeyStore.ParseRoles(key.Roles);
            if (roles.Length == 0)
            {
                errors.Add($"{at}:Roles must name at least one of {string.Join(", ", Security.Roles.All)}.");
            }

            foreach (var role in roles.Where(r => !Security.Roles.IsRole(r)))
            {
                errors.Add($"{at}:Roles has '{role}'; roles are {string.Join(", ", Security.Roles.All)}.");
            }
        }

        if (auth.UsesJwt && !Uri.TryCreate(auth.Jwt.Authority, UriKind.Absolute, out _))
        {
            errors.Add($"{Prefix}:Auth:Jwt:Authority must be the absolute URL of the OIDC issuer for Auth:Mode={auth.Mode} (got '{auth.Jwt.Authority}').");
        }

        if (!string.IsNullOrEmpty(auth.MetricsRole) && !Security.Roles.IsRole(auth.MetricsRole))
        {
            errors.Add($"{Prefix}:Auth:MetricsRole must be empty (open) or one of {string.Join(", ", Security.Roles.All)} (got '{auth.MetricsRole}').");
        }
    }

    /// <summary>
    /// Mode None trusts whoever reaches the port, so it is refused unless every HTTP listen address is loopback.
    /// Returns the one line to stop with, or null.
    /// </summary>
    public static string? CheckListenAddresses(IEnumerable<string> urls, Security.AuthOptions auth)
    {
        if (!auth.IsNone)
        {
            return null;
        }

        var open = urls.Where(u => !IsLoopbackUrl(u)).ToList();
        return open.Count == 0
            ? null
            : $"{Prefix}:Auth:Mode=None is only allowed when the silo listens on loopback, but it listens on {string.Join(", ", open)}; set {Prefix}:Auth:Mode to ApiKey, Jwt or ApiKeyAndJwt (and configure keys or an issuer), or listen on 127.0.0.1.";
    }

    internal static bool IsLoopbackUrl(string url)
    {
        // Kestrel's wildcards (*, +, 0.0.0.0, [::]) are not valid URI hosts; treat anything unparsable as open.
        var text = url.Trim().Replace("://*", "://wildcard.invalid", StringComparison.Ordinal).Replace("://+", "://wildcard.invalid", StringComparison.Ordinal);
        if (!Uri.TryCreate(text, UriKind.Absolute, out var uri))
        {
            return false;
        }

        return uri.IsLoopback || (System.Net.IPAddress.TryParse(uri.Host.Trim('[', ']'), out var ip) && System.Net.IPAddress.IsLoopback(ip));
    }

    internal static bool Is(string? value, string expected) => string.Equals(value, expected, StringComparison.OrdinalIgnoreCase);

    private static void OneOf(List<string> errors, string key, string? value, string[] allowed)
    {
        if (value is null || !allowed.Contains(value, StringComparer.OrdinalIgnoreCase))
        {
            errors.Add($"{key} must be one of {string.Join(", ", allowed)} (got '{value}').");
        }
    }

    private static void Port(List<string> errors, string key, int value)
    {
        if (value is < 1 or > 65535)
        {
            errors.Add($"{key} must be a TCP port between 1 and 65535 (got {value}).");
        }
    }

    private static void ServiceUri(List<string> errors, string key, string? value)
    {
        if (!string.IsNullOrWhiteSpace(value)
            && !(Uri.TryCreate(value, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttps || uri.Scheme == Uri.UriSchemeHttp)))
        {
            errors.Add($"{key} must be an absolute https:// URI such as https://myaccount.table.core.windows.net (got '{value}').");
        }
    }

    private static void NotBlank(List<string> errors, string key, string? value)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            errors.Add($"{key} must not be empty.");
        }
    }
}
