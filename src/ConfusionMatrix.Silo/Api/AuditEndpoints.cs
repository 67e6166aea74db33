using System.Collections.Immutable;
using System.Text.Json;
using ConfusionMatrix.Abstractions;
using ConfusionMatrix.Api.Contracts;
using ConfusionMatrix.Grains;
using ConfusionMatrix.Silo.Configuration;
using ConfusionMatrix.Silo.Security;
using Microsoft.Extensions.Options;

namespace ConfusionMatrix.Silo.Api;

/// <summary>
/// The audit trail over HTTP: <c>.Audited(…)</c> records a write with the caller's identity and the state before and
/// after; <c>GET /api/v1/audit</c> reads it; nothing changes it.
/// </summary>
public static class AuditEndpoints
{
    public const int DefaultPageSize = 100;

    private const string NoteKey = "cm.audit.note";

    public static IEndpointRouteBuilder MapAuditApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1");
        api.MapGet("/audit", ReadAsync).RequireAuthorization(Roles.Viewer);

        // The trail is append-only: refuse every other method plainly, to any caller who may read it.
        api.MapMethods("/audit", ["POST", "PUT", "PATCH", "DELETE"], (HttpContext http) =>
        {
            http.Response.Headers.Allow = "GET";
            return ApiEndpoints.Problem(405, "The audit trail cannot be changed", "Records are written by the silo when something changes; GET /api/v1/audit reads them.");
        }).RequireAuthorization(Roles.Viewer);

        api.MapGet("/me", (HttpContext http) => Results.Ok(new MeResponse(http.User.PrincipalName(), http.User.RoleNames(), http.User.Identity?.AuthenticationType)))
            .RequireAuthorization(p => p.RequireAuthenticatedUser());
        return app;
    }

    private static async Task<IResult> ReadAsync(string? model, DateTimeOffset? since, long? after, int? limit, IGrainFactory grains)
    {
        if (string.IsNullOrWhiteSpace(model))
        {
            return ApiEndpoints.Problem(400, "Model required", "The trail is kept per model: GET /api/v1/audit?model=<name>[&since=<ISO time>][&after=<sequence>][&limit=<1..1000>].");
        }

        if (limit is < 1 or > AuditTrailGrain.MaxPageSize)
        {
            return ApiEndpoints.Problem(400, "Invalid limit", $"limit must be between 1 and {AuditTrailGrain.MaxPageSize} (got {limit}).");
        }

        var page = await grains.GetGrain<IAuditTrailGrain>(model).ReadAsync(since, after, limit ?? DefaultPageSize);
        return Results.Ok(new AuditPageResponse(model, [.. page.Records.Select(HttpMapping.ToResponse)], page.Next, page.Dropped));
    }

    /// <summary>Adds to the note of the audit record this request will write (a reason, an actor the caller named).</summary>
    public static void AddAuditNote(this HttpContext http, string? note)
    {
        if (string.IsNullOrWhiteSpace(note))
        {
            return;
        }

        http.Items[NoteKey] = http.Items.TryGetValue(NoteKey, out var existing) && existing is string s ? $"{s}; {note}" : note;
    }

    /// <summary>
    /// Records every call of the endpoint in the model's audit trail: principal, roles, <paramref name="action"/>, the
    /// target (the request path), the status, and, with <paramref name="snapshot"/>, the state before and after.
    /// </summary>
    public static TBuilder Audited<TBuilder>(this TBuilder builder, string action, Func<IGrainFactory, HttpContext, string, Task<object?>>? snapshot = null, Func<EndpointFilterInvocationContext, string?>? model = null)
        where TBuilder : IEndpointConventionBuilder =>
        builder.AddEndpointFilter(async (context, next) =>
        {
            var http = context.HttpContext;
            var name = model?.Invoke(context) ?? http.Request.RouteValues["model"] as string;
            if (string.IsNullOrWhiteSpace(name))
            {
                return await next(context);
            }

            var grains = http.RequestServices.GetRequiredService<IGrainFactory>();
            var before = snapshot is null ? null : await TrySnapshotAsync(snapshot, grains, http, name);
            object? result;
            try
            {
                result = await next(context);
            }
            catch (Exception ex) when (Hosting.ApiExceptionHandler.Classify(ex) is { Status: not StatusCodes.Status503ServiceUnavailable and not StatusCodes.Status404NotFound } refused)
            {
                // Refused by the grain (400, 409): the exception handler answers; the attempt is on the trail.
                await AppendAsync(http, name, action, before, null, refused.Status);
                throw;
            }

            var status = result is IStatusCodeHttpResult { StatusCode: { } code } ? code : StatusCodes.Status200OK;
            if (status == StatusCodes.Status404NotFound)
            {
                // Nothing there to change: no trail for names that do not exist.
                return result;
            }

            var after = snapshot is null || status >= 400 ? null : await TrySnapshotAsync(snapshot, grains, http, name);
            await AppendAsync(http, name, action, before, after, status);
            return result;
        });

    /// <summary>Records reads of the endpoint, when <c>ConfusionMatrix:Audit:Reads</c> is on.</summary>
    public static TBuilder AuditedRead<TBuilder>(this TBuilder builder, string action)
        where TBuilder : IEndpointConventionBuilder =>
        builder.AddEndpointFilter(async (context, next) =>
        {
            var http = context.HttpContext;
            var result = await next(context);
            if (http.RequestServices.GetRequiredService<IOptions<ConfusionMatrixOptions>>().Value.Audit.Reads
                && http.Request.RouteValues["model"] is string name)
            {
                var status = result is IStatusCodeHttpResult { StatusCode: { } code } ? code : StatusCodes.Status200OK;
                if (status != StatusCodes.Status404NotFound)
                {
                    await AppendAsync(http, name, action, null, null, status);
                }
            }

            return result;
        });

    private static async Task<object?> TrySnapshotAsync(Func<IGrainFactory, HttpContext, string, Task<object?>> snapshot, IGrainFactory grains, HttpContext http, string model)
    {
        try
        {
            return await snapshot(grains, http, model);
        }
        catch (Exception ex) when (ex is InvalidOperationException or ArgumentException)
        {
            return null;
        }
    }

    private static async Task AppendAsync(HttpContext http, string model, string action, object? before, object? after, int status)
    {
        var record = new AuditRecord(
            0,
            DateTimeOffset.UtcNow,
            http.User.PrincipalName(),
            [.. http.User.RoleNames()],
            action,
            $"{http.Request.Method} {http.Request.Path}",
            AuditTrail.Snapshot(before),
            AuditTrail.Snapshot(after),
            http.TraceIdentifier,
            http.Items.TryGetValue(NoteKey, out var note) ? note as string : null,
            status);
        try
        {
            await http.RequestServices.GetRequiredService<IGrainFactory>().GetGrain<IAuditTrailGrain>(model).AppendAsync(record);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // The action is done; losing its record is logged loudly rather than reported as the action failing.
            Log.AuditFailed(http.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(AuditEndpoints).FullName!), model, action, record.Principal, ex.Message);
        }
    }
}
