namespace ConfusionMatrix.Silo.Security;

/// <summary>Who may call the silo (<c>ConfusionMatrix:Auth</c>).</summary>
public sealed class AuthOptions
{
    public static readonly string[] Modes = ["None", "ApiKey", "Jwt", "ApiKeyAndJwt"];

    /// <summary>
    /// <c>None</c> (every caller is the anonymous admin; allowed only while every listen address is loopback),
    /// <c>ApiKey</c>, <c>Jwt</c> or <c>ApiKeyAndJwt</c>.
    /// </summary>
    public string Mode { get; set; } = "None";

    /// <summary>API keys by name; the name is the principal recorded in the audit trail.</summary>
    public Dictionary<string, ApiKeyOptions> ApiKeys { get; set; } = new(StringComparer.Ordinal);

    public JwtOptions Jwt { get; set; } = new();

    /// <summary>The role <c>/metrics</c> requires; empty (the default) leaves it open for Prometheus scrapers.</summary>
    public string? MetricsRole { get; set; }

    public bool UsesApiKeys => Is("ApiKey") || Is("ApiKeyAndJwt");

    public bool UsesJwt => Is("Jwt") || Is("ApiKeyAndJwt");

    public bool IsNone => Is("None");

    private bool Is(string mode) => string.Equals(Mode, mode, StringComparison.OrdinalIgnoreCase);
}

public sealed class ApiKeyOptions
{
    /// <summary>The key itself, or <c>sha256:</c> and the lowercase or uppercase hex SHA-256 of it.</summary>
    public string? Key { get; set; }

    /// <summary>Roles: viewer, ingest, operator, admin. An entry may hold several, comma separated.</summary>
    public List<string> Roles { get; set; } = [];
}

public sealed class JwtOptions
{
    /// <summary>The OIDC issuer; its discovery document gives the signing keys.</summary>
    public string? Authority { get; set; }

    public string? Audience { get; set; }

    /// <summary>The claim that carries roles (a string or an array of strings).</summary>
    public string RoleClaim { get; set; } = "roles";

    /// <summary>The claim recorded as the principal's name.</summary>
    public string NameClaim { get; set; } = "sub";

    /// <summary>Only for a development issuer on plain http.</summary>
    public bool RequireHttpsMetadata { get; set; } = true;
}
