using ConfusionMatrix.Abstractions;
using ConfusionMatrix.Api.Contracts;
using ConfusionMatrix.Silo.Security;

namespace ConfusionMatrix.Silo.Api;

/// <summary>Drift reports, drift policy, rollout operations and the canary gate for Argo Rollouts and Flagger.</summary>
public static class RolloutEndpoints
{
    /// <summary>The operations, each at <c>POST …/rollout/{word}</c>.</summary>
    public static readonly string[] Actions = [.. RolloutActions.Operations.Select(a => a.ToWire())];

    public const int DefaultHistoryPageSize = 100;

    public static IEndpointRouteBuilder MapRolloutApi(this IEndpointRouteBuilder app)
    {
        var model = app.MapGroup("/api/v1/models/{model}");
        // Audit snapshots are the HTTP records too: the trail shows what a reader of the API would have seen.
        model.MapGet("/drift", async (string model, IGrainFactory grains) =>
            Results.Ok(HttpMapping.ToResponse(await grains.GetGrain<IDriftWatcherGrain>(model).GetReportAsync())))
            .Produces<DriftReportResponse>()
            .RequireAuthorization(Roles.Viewer).AuditedRead("drift.read");
        model.MapPost("/drift/evaluate", async (string model, IGrainFactory grains) =>
            Results.Ok(HttpMapping.ToResponse(await grains.GetGrain<IDriftWatcherGrain>(model).EvaluateNowAsync())))
            .Produces<DriftReportResponse>()
            .RequireAuthorization(Roles.Operator).Audited("drift.evaluate");
        model.MapPut("/drift/policy", async (string model, DriftPolicyRequest? policy, IGrainFactory grains) => policy is null
            ? ApiEndpoints.Problem(400, "Body required", "Send a drift policy object; omitted fields keep their defaults.")
            : Results.Ok(HttpMapping.ToResponse(await grains.GetGrain<IDriftWatcherGrain>(model).SetPolicyAsync(HttpMapping.ToPolicy(policy)))))
            .Produces<DriftReportResponse>()
            .RequireAuthorization(Roles.Admin)
            .Audited("drift.policy", async (grains, _, m) => HttpMapping.ToResponse((await grains.GetGrain<IDriftWatcherGrain>(m).GetReportAsync()).Policy));

        model.MapGet("/rollout", async (string model, IGrainFactory grains) =>
            Results.Ok(HttpMapping.ToResponse(await grains.GetGrain<IRolloutControllerGrain>(model).GetStateAsync())))
            .Produces<RolloutViewResponse>()
            .RequireAuthorization(Roles.Viewer).AuditedRead("rollout.read");
        model.MapGet("/rollout/routing", async (string model, IGrainFactory grains) =>
            Results.Ok(HttpMapping.ToResponse(await grains.GetGrain<IRolloutControllerGrain>(model).GetRoutingAsync())))
            .Produces<RoutingTableResponse>()
            .RequireAuthorization(Roles.Viewer);
        model.MapPut("/rollout/policy", SetRolloutPolicyAsync)
            .Produces<RolloutViewResponse>()
            .RequireAuthorization(Roles.Admin)
            .Audited("rollout.policy", async (grains, _, m) => HttpMapping.ToResponse((await grains.GetGrain<IRolloutControllerGrain>(m).GetStateAsync()).Policy));
        model.MapGet("/rollout/history", GetHistoryAsync)
            .Produces<RolloutHistoryPageResponse>()
            .RequireAuthorization(Roles.Viewer).AuditedRead("rollout.read");

        // One route per operation; the state machine refuses what the current phase does not allow (409).
        foreach (var action in RolloutActions.Operations)
        {
            var word = action.ToWire();
            model.MapPost($"/rollout/{word}", (string model, RolloutActionRequest? request, IGrainFactory grains, HttpContext http) =>
                ActAsync(grains.GetGrain<IRolloutControllerGrain>(model), action, request ?? new(null, null, null, null), http))
                .Produces<RolloutViewResponse>()
                .RequireAuthorization(Roles.Operator)
                .Audited($"rollout.{word}", async (grains, _, m) => HttpMapping.ToResponse(await grains.GetGrain<IRolloutControllerGrain>(m).GetRoutingAsync()))
                .WithName($"rollout-{word}");
        }

        // Any other word names no operation.
        model.MapPost("/rollout/{action}", (string action) =>
            ApiEndpoints.Problem(404, "Unknown rollout action", $"Unknown rollout action '{action}'; use one of {string.Join(", ", Actions)}."))
            .RequireAuthorization(Roles.Operator);

        // Argo Rollouts' web metric provider reads {"pass": …} with a jsonPath; Flagger's webhook gates need a non-2xx
        // status to halt, which strict=true gives. Only evidence passes: no judged segment is "inconclusive", never a pass.
        model.MapMethods("/rollout/gate", ["GET", "POST"], async (string model, string? version, bool? strict, IGrainFactory grains) =>
        {
            var routing = await grains.GetGrain<IRolloutControllerGrain>(model).GetRoutingAsync();
            var target = version ?? routing.Canary;
            GateResponse body;
            if (target is null)
            {
                body = new GateResponse(model, null, false, true, "no canary in progress: nothing to judge", routing.Phase.ToString());
            }
            else
            {
                var answer = await grains.GetGrain<IDriftWatcherGrain>(model).GateAsync(target);
                // A paused canary fails the gate; the watcher's reason is kept when it already failed it.
                var paused = target == routing.Canary && routing.Phase is RolloutPhase.Paused && (answer.Pass || answer.Inconclusive);
                body = paused
                    ? new GateResponse(model, target, false, false, $"canary {target} is paused", routing.Phase.ToString())
                    : new GateResponse(model, target, answer.Pass, answer.Inconclusive, answer.Reason, routing.Phase.ToString());
            }

            return body.Pass || strict != true ? Results.Ok(body) : Results.Json(body, statusCode: StatusCodes.Status412PreconditionFailed);
        }).RequireAuthorization(Roles.Viewer);
        return app;
    }

    private static async Task<IResult> SetRolloutPolicyAsync(string model, RolloutPolicyRequest? request, string? actor, IGrainFactory grains, HttpContext http)
    {
        if (request is null)
        {
            return ApiEndpoints.Problem(400, "Body required", "Send a rollout policy object.");
        }

        var policy = HttpMapping.ToPolicy(request);

        var rollout = grains.GetGrain<IRolloutControllerGrain>(model);
        if (policy.WebhookSecret == RolloutPolicy.RedactedSecret)
        {
            // A policy read back and sent again keeps the secret it had.
            policy = policy with { WebhookSecret = (await rollout.GetStateAsync()).Policy.WebhookSecret };
        }

        var (name, note) = http.User.ActorOf(actor);
        http.AddAuditNote(note);
        return Results.Ok(HttpMapping.ToResponse(await rollout.SetPolicyAsync(policy, name)));
    }

    private static async Task<IResult> GetHistoryAsync(string model, long? after, int? limit, IGrainFactory grains)
    {
        if (limit is < 1 or > ConfusionMatrix.Grains.RolloutControllerGrain.MaxHistoryPageSize)
        {
            return ApiEndpoints.Problem(400, "Invalid limit", $"limit must be between 1 and {ConfusionMatrix.Grains.RolloutControllerGrain.MaxHistoryPageSize} (got {limit}).");
        }

        return Results.Ok(HttpMapping.ToResponse(await grains.GetGrain<IRolloutControllerGrain>(model).GetHistoryAsync(after, limit ?? DefaultHistoryPageSize)));
    }

    private static async Task<IResult> ActAsync(IRolloutControllerGrain rollout, RolloutAction action, RolloutActionRequest r, HttpContext http)
    {
        var (actor, note) = http.User.ActorOf(r.Actor);
        var reason = r.Reason ?? "";
        http.AddAuditNote(string.IsNullOrWhiteSpace(r.Reason) ? null : $"reason: {r.Reason}");
        http.AddAuditNote(note);
        var view = action switch
        {
            RolloutAction.SetStable => await rollout.SetStableAsync(Required(r.Version, "version"), actor, reason),
            RolloutAction.StartCanary => await rollout.StartCanaryAsync(Required(r.Version, "version"), r.Weight ?? 10, actor, reason),
            RolloutAction.SetWeight => await rollout.SetWeightAsync(r.Weight ?? throw new ArgumentException("'weight' is required."), actor, reason),
            RolloutAction.Promote => await rollout.PromoteAsync(actor, reason),
            RolloutAction.Pause => await rollout.PauseAsync(actor, reason),
            RolloutAction.Resume => await rollout.ResumeAsync(actor, reason),
            RolloutAction.Rollback => await rollout.RollbackAsync(actor, reason),
            _ => throw new KeyNotFoundException($"Rollout action '{action.ToWire()}' is not an operation; use one of {string.Join(", ", Actions)}."),
        };
        // Mapped to the HTTP record, which never shows the webhook secret.
        return Results.Ok(HttpMapping.ToResponse(view));
    }

    private static string Required(string? value, string name) =>
        string.IsNullOrWhiteSpace(value) ? throw new ArgumentException($"'{name}' is required.") : value;
}
