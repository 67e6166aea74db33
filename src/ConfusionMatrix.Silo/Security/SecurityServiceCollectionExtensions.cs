using System.Security.Claims;
using ConfusionMatrix.Grains;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Policy;

namespace ConfusionMatrix.Silo.Security;

public static class SecurityServiceCollectionExtensions
{
    /// <summary>The policy scheme every request authenticates with; it forwards to the API-key or bearer handler.</summary>
    public const string Scheme = "ConfusionMatrix";

    public static IServiceCollection AddConfusionMatrixSecurity(this IServiceCollection services, AuthOptions auth)
    {
        services.AddSingleton(auth);
        services.AddSingleton<ApiKeyStore>();
        services.AddSingleton<IAuthorizationMiddlewareResultHandler, ProblemAuthorizationResultHandler>();
        var authentication = services.AddAuthentication(Scheme);
        if (auth.IsNone)
        {
            authentication.AddScheme<AuthenticationSchemeOptions, AnonymousAuthenticationHandler>(AnonymousAuthenticationHandler.SchemeName, null);
        }

        if (auth.UsesApiKeys)
        {
            authentication.AddScheme<AuthenticationSchemeOptions, ApiKeyAuthenticationHandler>(ApiKeyAuthenticationHandler.SchemeName, null);
        }

        if (auth.UsesJwt)
        {
            authentication.AddJwtBearer(JwtBearerDefaults.AuthenticationScheme, o =>
            {
                o.Authority = auth.Jwt.Authority;
                o.Audience = auth.Jwt.Audience;
                o.RequireHttpsMetadata = auth.Jwt.RequireHttpsMetadata;

                // Claims keep the issuer's names, so RoleClaim and NameClaim mean what the token says.
                o.MapInboundClaims = false;
                o.TokenValidationParameters.RoleClaimType = auth.Jwt.RoleClaim;
                o.TokenValidationParameters.NameClaimType = auth.Jwt.NameClaim;
                o.TokenValidationParameters.ValidateAudience = !string.IsNullOrEmpty(auth.Jwt.Audience);
            });
        }

        authentication.AddPolicyScheme(Scheme, "API key or bearer token", o => o.ForwardDefaultSelector = http => SelectScheme(http, auth));

        services.AddAuthorizationBuilder()
            .AddPolicy(Roles.Viewer, p => p.RequireRole(Roles.Satisfying(Roles.Viewer)))
            .AddPolicy(Roles.Ingest, p => p.RequireRole(Roles.Satisfying(Roles.Ingest)))
            .AddPolicy(Roles.Operator, p => p.RequireRole(Roles.Satisfying(Roles.Operator)))
            .AddPolicy(Roles.Admin, p => p.RequireRole(Roles.Satisfying(Roles.Admin)))

            // An endpoint nobody gave a policy is an admin endpoint: a new route is never open by accident.
            .SetDefaultPolicy(new AuthorizationPolicyBuilder().RequireRole(Roles.Admin).Build())
            .SetFallbackPolicy(new AuthorizationPolicyBuilder().RequireRole(Roles.Admin).Build());
        return services;
    }

    private static string SelectScheme(HttpContext http, AuthOptions auth)
    {
        if (auth.IsNone)
        {
            return AnonymousAuthenticationHandler.SchemeName;
        }

        if (auth.UsesApiKeys && http.Request.Headers.ContainsKey(ApiKeyAuthenticationHandler.HeaderName))
        {
            return ApiKeyAuthenticationHandler.SchemeName;
        }

        if (auth.UsesJwt && (http.Request.Headers.Authorization.FirstOrDefault()?.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) == true || !auth.UsesApiKeys))
        {
            return JwtBearerDefaults.AuthenticationScheme;
        }

        return ApiKeyAuthenticationHandler.SchemeName;
    }
}

/// <summary>
/// 401 and 403 as problem details, counted in <c>confusionmatrix_http_refused_total{reason}</c>; a 403 names the
/// role the endpoint needs.
/// </summary>
public sealed class ProblemAuthorizationResultHandler(AuthOptions auth, ConfusionMatrixInstruments instruments, ILogger<ProblemAuthorizationResultHandler> logger)
    : IAuthorizationMiddlewareResultHandler
{
    private readonly AuthorizationMiddlewareResultHandler _default = new();

    public async Task HandleAsync(RequestDelegate next, HttpContext context, AuthorizationPolicy policy, PolicyAuthorizationResult authorizeResult)
    {
        if (authorizeResult.Succeeded)
        {
            await _default.HandleAsync(next, context, policy, authorizeResult);
            return;
        }

        var problems = context.RequestServices.GetRequiredService<IProblemDetailsService>();
        if (authorizeResult.Challenged)
        {
            // The authentication middleware keeps only successes; the handler caches its result, so this is cheap.
            var failure = (await context.AuthenticateAsync()).Failure;
            var reason = failure is null ? "missing_credentials" : "invalid_credentials";
            instruments.HttpRefused(reason);
            Log.Refused(logger, 401, reason, context.Request.Method, context.Request.Path);
            var schemes = new List<string>();
            if (auth.UsesApiKeys)
            {
                schemes.Add($"ApiKey header=\"{ApiKeyAuthenticationHandler.HeaderName}\"");
            }

            if (auth.UsesJwt)
            {
                schemes.Add("Bearer");
            }

            context.Response.StatusCode = StatusCodes.Status401Unauthorized;
            context.Response.Headers.WWWAuthenticate = string.Join(", ", schemes);
            await problems.WriteAsync(new ProblemDetailsContext
            {
                HttpContext = context,
                ProblemDetails =
                {
                    Status = 401,
                    Title = "Authentication required",
                    Detail = failure is null
                        ? $"Send an API key in the {ApiKeyAuthenticationHandler.HeaderName} header{(auth.UsesJwt ? " or a bearer token" : "")}."
                        : failure.Message,
                },
            });
            return;
        }

        var needed = policy.Requirements.OfType<Microsoft.AspNetCore.Authorization.Infrastructure.RolesAuthorizationRequirement>()
            .SelectMany(r => r.AllowedRoles).FirstOrDefault() ?? Roles.Admin;
        instruments.HttpRefused("forbidden");
        Log.Refused(logger, 403, $"{context.User.Identity?.Name} lacks {needed}", context.Request.Method, context.Request.Path);
        context.Response.StatusCode = StatusCodes.Status403Forbidden;
        await problems.WriteAsync(new ProblemDetailsContext
        {
            HttpContext = context,
            ProblemDetails =
            {
                Status = 403,
                Title = "Role required",
                Detail = $"'{context.User.Identity?.Name}' has roles [{string.Join(", ", context.User.RoleNames())}]; {context.Request.Method} {context.Request.Path} needs '{needed}' (or a role that implies it).",
            },
        });
    }
}

public static class PrincipalExtensions
{
    public static IReadOnlyList<string> RoleNames(this ClaimsPrincipal user) =>
        [.. user.Identities.SelectMany(i => i.Claims.Where(c => c.Type == i.RoleClaimType).Select(c => c.Value)).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)];

    public static string PrincipalName(this ClaimsPrincipal user) =>
        user.Identity is { IsAuthenticated: true, Name: { Length: > 0 } name } ? name : AnonymousAuthenticationHandler.Name;

    /// <summary>
    /// Who an action is recorded as, and the note kept beside it. The authenticated principal is the actor; a body
    /// <c>actor</c> is only a note. Without authentication (mode None, loopback only) there is no principal to
    /// prefer, so a body actor still names the actor.
    /// </summary>
    public static (string Actor, string? Note) ActorOf(this ClaimsPrincipal user, string? bodyActor)
    {
        var claimed = string.IsNullOrWhiteSpace(bodyActor) ? null : bodyActor.Trim();
        if (user.Identity?.AuthenticationType == AnonymousAuthenticationHandler.SchemeName)
        {
            return (claimed ?? AnonymousAuthenticationHandler.Name, claimed);
        }

        var name = user.PrincipalName();
        return (name, claimed is null || claimed == name ? null : $"actor given in the request: {claimed}");
    }
}
