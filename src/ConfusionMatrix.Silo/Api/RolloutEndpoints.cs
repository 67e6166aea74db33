using ConfusionMatrix.Abstractions;
using ConfusionMatrix.Silo.Security;

namespace ConfusionMatrix.Silo.Api;

public sealed record RolloutActionRequest(string? Version, int? Weight, string? Actor, string? Reason);

/// <summary>The gate's body. <c>inconclusive</c>: not enough evidence either way, which never passes.</summary>
public sealed record GateResponse(string Model, string? Version, bool Pass, bool Inconclusive, string Reason, string Phase);

/// <summary>Drift reports, drift policy, rollout operations and the canary gate for Argo Rollouts and Flagger.</summary>
public static class RolloutEndpoints
{
    public static readonly string[] Actions = RolloutActions.Operations;

    public static IEndpointRouteBuilder MapRolloutApi(this IEndpointRouteBuilder app)
    {
        var model = app.MapGroup("/api/v1/models/{model}");
        model.MapGet("/drift", async (string model, IGrainFactory grains) =>
            Results.Ok(await grains.GetGrain<IDriftWatcherGrain>(model).GetReportAsync()))
            .RequireAuthorization(Roles.Viewer).AuditedRead("drift.read");
        model.MapPost("/drift/evaluate", (string model, IGrainFactory grains) =>
            Guard(async () => Results.Ok(await grains.GetGrain<IDriftWatcherGrain>(model).EvaluateNowAsync())))
            .RequireAuthorization(Roles.Operator).Audited("drift.evaluate");
        model.MapPut("/drift/policy", async (string model, DriftPolicySettings? policy, IGrainFactory grains) => policy is null
            ? ApiEndpoints.Problem(400, "Body required", "Send a drift policy object; omitted fields keep their defaults.")
            : await Guard(async () => Results.Ok(await grains.GetGrain<IDriftWatcherGrain>(model).SetPolicyAsync(policy))))
            .RequireAuthorization(Roles.Admin).Audited("drift.policy", async (grains, _, m) => (await grains.GetGrain<IDriftWatcherGrain>(m).GetReportAsync()).Policy);

        model.MapGet("/rollout", async (string model, IGrainFactory grains) =>
            Results.Ok(Redacted(await grains.GetGrain<IRolloutControllerGrain>(model).GetStateAsync())))
            .RequireAuthorization(Roles.Viewer).AuditedRead("rollout.read");
        model.MapGet("/rollout/routing", async (string model, IGrainFactory grains) =>
            Results.Ok(await grains.GetGrain<IRolloutControllerGrain>(model).GetRoutingAsync()))
            .RequireAuthorization(Roles.Viewer);
        model.MapPut("/rollout/policy", SetRolloutPolicyAsync)
            .RequireAuthorization(Roles.Admin)
            .Audited("rollout.policy", async (grains, _, m) => (await grains.GetGrain<IRolloutControllerGrain>(m).GetStateAsync()).Policy.Redacted());
        model.MapPost("/rollout/{action}", (string model, string action, RolloutActionRequest? request, IGrainFactory grains, HttpContext http) =>
            Guard(() => ActAsync(grains.GetGrain<IRolloutControllerGrain>(model), action, request ?? new(null, null, null, null), http)))
            .RequireAuthorization(Roles.Operator)
            .Audited("rollout.{action}", async (grains, _, m) => await grains.GetGrain<IRolloutControllerGrain>(m).GetRoutingAsync());

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

    /// <summary>The view as readers see it: the webhook secret is never shown.</summary>
    private static RolloutView Redacted(RolloutView view) => view with { Policy = view.Policy.Redacted() };

    private static async Task<IResult> SetRolloutPolicyAsync(string model, RolloutPolicy? policy, string? actor, IGrainFactory grains, HttpContext http)
    {
        if (policy is null)
        {
            return ApiEndpoints.Problem(400, "Body required", "Send a rollout policy object.");
        }

        var rollout = grains.GetGrain<IRolloutControllerGrain>(model);
        if (policy.WebhookSecret == RolloutPolicy.RedactedSecret)
        {
            // A policy read back and sent again keeps the secret it had.
            policy = policy with { WebhookSecret = (await rollout.GetStateAsync()).Policy.WebhookSecret };
        }

        var (name, note) = http.User.ActorOf(actor);
        http.AddAuditNote(note);
        return await Guard(async () => Results.Ok(Redacted(await rollout.SetPolicyAsync(policy, name))));
    }

    private static async Task<IResult> ActAsync(IRolloutControllerGrain rollout, string action, RolloutActionRequest r, HttpContext http)
    {
        var (actor, note) = http.User.ActorOf(r.Actor);
        var reason = r.Reason ?? "";
        http.AddAuditNote(string.IsNullOrWhiteSpace(r.Reason) ? null : $"reason: {r.Reason}");
        http.AddAuditNote(note);
        RolloutView view = action switch
        {
            RolloutActions.SetStable => await rollout.SetStableAsync(Required(r.Version, "version"), actor, reason),
            RolloutActions.StartCanary => await rollout.StartCanaryAsync(Required(r.Version, "version"), r.Weight ?? 10, actor, reason),
            RolloutActions.SetWeight => await rollout.SetWeightAsync(r.Weight ?? throw new ArgumentException("'weight' is required."), actor, reason),
            RolloutActions.Promote => await rollout.PromoteAsync(actor, reason),
            RolloutActions.Pause => await rollout.PauseAsync(actor, reason),
            RolloutActions.Resume => await rollout.ResumeAsync(actor, reason),
            RolloutActions.Rollback => await rollout.RollbackAsync(actor, reason),
            _ => throw new KeyNotFoundException($"Unknown rollout action '{action}'; use one of {string.Join(", ", Actions)}."),
        };
        return Results.Ok(Redacted(view));
    }

    private static string Required(string? value, string name) =>
        string.IsNullOrWhiteSpace(value) ? throw new ArgumentException($"'{name}' is required.") : value;

    /// <summary>Maps refused operations to problem details: bad arguments 400, wrong state 409, unknown action 404.</summary>
    private static async Task<IResult> Guard(Func<Task<IResult>> call)
    {
        try
        {
            return await call();
        }
        catch (ArgumentException ex)
        {
            return ApiEndpoints.Problem(400, "Invalid request", ex.Message);
        }
        catch (InvalidOperationException ex)
        {
            return ApiEndpoints.Problem(409, "Not allowed in the current rollout state", ex.Message);
        }
        catch (KeyNotFoundException ex)
        {
            return ApiEndpoints.Problem(404, "Unknown action", ex.Message);
        }
    }
}
