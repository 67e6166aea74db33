using Microsoft.Extensions.Options;

namespace ConfusionMatrix.Silo.Configuration;

/// <summary>
/// Checks the configuration contract: generated from the data annotations of <see cref="ConfusionMatrixOptions"/> and
/// its sections (ranges, required values, provider names), plus <see cref="CrossChecks"/> for the rules that relate
/// settings to each other. Every message names the key, so a bad deployment fails with one clear line.
/// </summary>
[OptionsValidator]
public sealed partial class ConfusionMatrixOptionsValidator : IValidateOptions<ConfusionMatrixOptions>
{
    private const string Prefix = ConfusionMatrixOptions.SectionName;

    /// <summary>Every problem of <paramref name="o"/>, one line each; empty when the configuration is valid.</summary>
    public static List<string> Check(ConfusionMatrixOptions o) =>
        new ConfusionMatrixOptionsValidator().Validate(null, o) is { Failed: true } result ? [.. result.Failures.Select(WithoutMemberName)] : [];

    /// <summary>Attribute failures come as <c>Member: message</c>; the message already names the full key.</summary>
    private static string WithoutMemberName(string failure) =>
        failure.IndexOf(": " + Prefix + ":", StringComparison.Ordinal) is > 0 and var at && !failure[..at].Contains(' ') ? failure[(at + 2)..] : failure;

    /// <summary>The rules no attribute can say: one setting requiring or excluding another, and values that must parse.</summary>
    internal static List<string> CrossChecks(ConfusionMatrixOptions o)
    {
        var errors = new List<string>();
        if (o.Clustering.SiloPort == o.Clustering.GatewayPort)
        {
            errors.Add($"{Prefix}:Clustering:GatewayPort must differ from {Prefix}:Clustering:SiloPort (both are {o.Clustering.SiloPort}).");
        }

        ServiceUri(errors, $"{Prefix}:Storage:TableServiceUri", o.Storage.TableServiceUri);
        ServiceUri(errors, $"{Prefix}:Storage:BlobServiceUri", o.Storage.BlobServiceUri);
        ServiceUri(errors, $"{Prefix}:Streams:QueueServiceUri", o.Streams.QueueServiceUri);
        var hasStorageConnection = !string.IsNullOrWhiteSpace(o.Storage.ConnectionString);
        foreach (var store in o.Storage.Stores.Keys.Where(k => !Grains.StorageNames.All.Contains(k, StringComparer.OrdinalIgnoreCase)))
        {
            errors.Add($"{Prefix}:Storage:Stores:{store} names no store; the stores are {string.Join(", ", Grains.StorageNames.All)}.");
        }

        var tableStores = StoresOn(o.Storage, StorageProvider.AzureTable);
        var needsTables = o.Storage.Provider == StorageProvider.AzureTable || tableStores.Count > 0 || o.Clustering.Provider != ClusteringProvider.Localhost;
        if (needsTables && !hasStorageConnection && string.IsNullOrWhiteSpace(o.Storage.TableServiceUri))
        {
            var by = o.Storage.Provider != StorageProvider.AzureTable && tableStores.Count > 0 ? $" and {string.Join(", ", tableStores.Select(s => $"{Prefix}:Storage:Stores:{s}=AzureTable"))}" : string.Empty;
            errors.Add($"{Prefix}:Storage:ConnectionString (or {Prefix}:Storage:TableServiceUri with an Azure identity) is required for Storage:Provider={o.Storage.Provider}{by} and Clustering:Provider={o.Clustering.Provider} (use UseDevelopmentStorage=true for Azurite).");
        }

        var blobStores = StoresOn(o.Storage, StorageProvider.AzureBlob);
        if ((o.Storage.Provider == StorageProvider.AzureBlob || blobStores.Count > 0) && !hasStorageConnection && string.IsNullOrWhiteSpace(o.Storage.BlobServiceUri))
        {
            var by = o.Storage.Provider == StorageProvider.AzureBlob ? "Storage:Provider=AzureBlob" : string.Join(", ", blobStores.Select(s => $"{Prefix}:Storage:Stores:{s}=AzureBlob"));
            errors.Add($"{Prefix}:Storage:ConnectionString (or {Prefix}:Storage:BlobServiceUri with an Azure identity) is required for {by} (use UseDevelopmentStorage=true for Azurite).");
        }

        if (o.Streams.Provider == StreamsProvider.AzureQueue && string.IsNullOrWhiteSpace(o.Streams.ConnectionString ?? o.Storage.ConnectionString) && string.IsNullOrWhiteSpace(o.Streams.QueueServiceUri))
        {
            errors.Add($"{Prefix}:Streams:ConnectionString (or {Prefix}:Streams:QueueServiceUri with an Azure identity) is required for Streams:Provider=AzureQueue.");
        }

        if (o.Streams.Provider == StreamsProvider.EventHubs)
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

        if (o.Clustering.AdvertisedAddress is { } advertised && !System.Net.IPAddress.TryParse(advertised, out _))
        {
            errors.Add($"{Prefix}:Clustering:AdvertisedAddress must be an IP address (got '{advertised}').");
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

        CheckAuth(errors, o.Auth);
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

    /// <summary>The stores given <paramref name="provider"/> by a per-store entry, as written in configuration.</summary>
    private static List<string> StoresOn(StorageOptions storage, StorageProvider provider) =>
        [.. storage.Stores.Where(kv => kv.Value == provider).Select(kv => kv.Key)];

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

    private static void OneOf(List<string> errors, string key, string? value, string[] allowed)
    {
        if (value is null || !allowed.Contains(value, StringComparer.OrdinalIgnoreCase))
        {
            errors.Add($"{key} must be one of {string.Join(", ", allowed)} (got '{value}').");
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
}
