using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;

namespace ConfusionMatrix.Silo.Security;

/// <summary>The configured API keys as SHA-256 digests, so that a key is never compared, or kept, in clear.</summary>
public sealed class ApiKeyStore
{
    public const string Prefix = "sha256:";

    private readonly (string Name, byte[] Digest, string[] Roles)[] _keys;

    public ApiKeyStore(AuthOptions options)
    {
        _keys = [.. options.ApiKeys
            .Where(kv => !string.IsNullOrEmpty(kv.Value.Key))
            .Select(kv => (kv.Key, Digest(kv.Value.Key!), ParseRoles(kv.Value.Roles)))];
    }

    public int Count => _keys.Length;

    /// <summary>The digest a configured key stands for: the hex after <c>sha256:</c>, or the SHA-256 of the key.</summary>
    public static byte[] Digest(string configured) =>
        configured.StartsWith(Prefix, StringComparison.OrdinalIgnoreCase)
            ? Convert.FromHexString(configured[Prefix.Length..])
            : SHA256.HashData(Encoding.UTF8.GetBytes(configured));

    public static string[] ParseRoles(IEnumerable<string> roles) =>
        [.. roles.SelectMany(r => r.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).Distinct(StringComparer.Ordinal)];

    /// <summary>
    /// The key's name and roles, or null. Every configured key is compared, in constant time, so the time taken says
    /// nothing about which key or how much of it matched.
    /// </summary>
    public (string Name, string[] Roles)? Find(string presented)
    {
        var digest = SHA256.HashData(Encoding.UTF8.GetBytes(presented));
        (string, string[])? found = null;
        foreach (var (name, expected, roles) in _keys)
        {
            if (CryptographicOperations.FixedTimeEquals(digest, expected) && found is null)
            {
                found = (name, roles);
            }
        }

        return found;
    }
}

/// <summary>Authenticates the <c>X-API-Key</c> header against <see cref="ApiKeyStore"/>.</summary>
public sealed class ApiKeyAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder,
    ApiKeyStore keys)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "ApiKey";

    public const string HeaderName = "X-API-Key";

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        if (!Request.Headers.TryGetValue(HeaderName, out var values) || values.Count == 0 || string.IsNullOrEmpty(values[0]))
        {
            return Task.FromResult(AuthenticateResult.NoResult());
        }

        if (values.Count > 1 || keys.Find(values[0]!) is not { } key)
        {
            return Task.FromResult(AuthenticateResult.Fail("The API key is not valid."));
        }

        var identity = new ClaimsIdentity(
            [new Claim(ClaimTypes.Name, key.Name), .. key.Roles.Select(r => new Claim(ClaimTypes.Role, r))],
            SchemeName,
            ClaimTypes.Name,
            ClaimTypes.Role);
        return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), SchemeName)));
    }
}

/// <summary>
/// Mode <c>None</c>: every caller is <c>anonymous</c> with every role. Only allowed on loopback, where whoever can
/// reach the port already runs on the machine.
/// </summary>
public sealed class AnonymousAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "None";

    public const string Name = "anonymous";

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var identity = new ClaimsIdentity(
            [new Claim(ClaimTypes.Name, Name), .. Roles.All.Select(r => new Claim(ClaimTypes.Role, r))],
            SchemeName,
            ClaimTypes.Name,
            ClaimTypes.Role);
        return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), SchemeName)));
    }
}
