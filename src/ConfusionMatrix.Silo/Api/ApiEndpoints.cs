using System.IO.Pipelines;
using System.Text;
using System.Text.Json;
using ConfusionMatrix.Abstractions;
using ConfusionMatrix.Api.Contracts;
using ConfusionMatrix.Core;
using ConfusionMatrix.Grains;
using ConfusionMatrix.Silo.Configuration;
using ConfusionMatrix.Silo.Security;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace ConfusionMatrix.Silo.Api;

/// <summary>The HTTP API of the design's wire contract, under <c>/api/v1</c>.</summary>
public static class ApiEndpoints
{
    public const string NdjsonContentType = "application/x-ndjson";

    public static IServiceCollection AddConfusionMatrixApi(this IServiceCollection services)
    {
        services.AddSingleton<ModelDefinitionCache>();
        services.AddSingleton<PredictionPublisher>();
        services.AddSingleton<PredictionIntake>();
        services.AddSingleton<LabelIntake>();
        services.AddSingleton<MLflowBaselines>();
        return services;
    }

    public static IEndpointRouteBuilder MapConfusionMatrixApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1");
        api.MapPost("/models", RegisterModelAsync)
            .RequireAuthorization(Roles.Admin)
            .Audited("model.register", ModelSnapshotAsync, context => context.Arguments.OfType<RegisterModelRequest>().FirstOrDefault()?.Model);
        api.MapGet("/models/{model}", GetModelAsync).RequireAuthorization(Roles.Viewer);
        api.MapGet("/models/{model}/dead-letters", async (string model, IGrainFactory grains) =>
            Results.Ok(HttpMapping.ToResponse(await grains.GetGrain<IDeadLetterGrain>(model).GetAsync())))
            .Produces<IReadOnlyList<DeadLetterResponse>>()
            .RequireAuthorization(Roles.Viewer);
        api.MapPost("/predictions", PostPredictionsAsync).RequireAuthorization(Roles.Ingest);
        api.MapPost("/labels", PostLabelsAsync).RequireAuthorization(Roles.Ingest);
        api.MapGet("/models/{model}/labels", GetLabelStatsAsync).RequireAuthorization(Roles.Viewer);
        var segment = api.MapGroup("/models/{model}/versions/{version}/segments/{segment}");
        segment.MapGet("/matrix", GetMatrixAsync).RequireAuthorization(Roles.Viewer).AuditedRead("matrix.read");
        segment.MapGet("/baseline", GetBaselineAsync).RequireAuthorization(Roles.Viewer);
        segment.MapPut("/baseline", PutBaselineAsync).RequireAuthorization(Roles.Operator).Audited("baseline.set", BaselineSnapshotAsync);
        segment.MapDelete("/baseline", DeleteBaselineAsync).RequireAuthorization(Roles.Operator).Audited("baseline.delete", BaselineSnapshotAsync);
        return app;
    }

    private static async Task<object?> ModelSnapshotAsync(IGrainFactory grains, HttpContext http, string model) =>
        (await grains.GetGrain<IModelRegistryGrain>(model).GetCatalogAsync()).Definition;

    private static async Task<object?> BaselineSnapshotAsync(IGrainFactory grains, HttpContext http, string model)
    {
        var key = Segments.MatrixKey(model, (string)http.Request.RouteValues["version"]!, SegmentKey.Parse((string)http.Request.RouteValues["segment"]!));
        var view = await grains.GetGrain<ISegmentMatrixGrain>(key).GetBaselineAsync();
        return new { kind = view.Kind.ToString().ToLowerInvariant(), counts = view.Matrix?.ToRows(), total = view.Matrix?.Total ?? 0, view.SetAt };
    }

    private static async Task<IResult> RegisterModelAsync(RegisterModelRequest? request, IGrainFactory grains, ModelDefinitionCache cache, ConfusionMatrix.Grains.ApplicationClock clock)
    {
        if (request is null)
        {
            return Problem(400, "Body required", "Send {\"model\":…,\"classes\":[…],\"positiveClass\":…,\"segmentDimensions\":[…]}.");
        }

        var problem = ModelDefinition.Validate(request.Model, request.Classes, request.PositiveClass, request.SegmentDimensions)
            ?? ModelDefinition.ValidateLabelTiming(request.LabelTtl, request.LabelGracePeriod);
        if (problem is not null)
        {
            return Problem(400, "Invalid model definition", problem);
        }

        var definition = new ModelDefinition(request.Model!, [.. request.Classes!], request.PositiveClass, [.. request.SegmentDimensions ?? []], clock.GetUtcNow(), request.LabelTtl, request.LabelGracePeriod);
        // Other classes than the registered ones: the grain refuses (409 from the exception handler).
        var stored = await grains.GetGrain<IModelRegistryGrain>(definition.Model).RegisterAsync(definition);
        cache.Set(stored);
        return Results.Ok(HttpMapping.ToResponse(stored));
    }

    private static async Task<IResult> GetModelAsync(string model, IGrainFactory grains)
    {
        var catalog = await grains.GetGrain<IModelRegistryGrain>(model).GetCatalogAsync();
        if (catalog.Definition is null)
        {
            return UnknownModel(model);
        }

        var versions = catalog.SegmentsByVersion.ToDictionary(kv => kv.Key, kv => (IReadOnlyList<string>)kv.Value, StringComparer.Ordinal);
        return Results.Ok(new ModelCatalogResponse(HttpMapping.ToResponse(catalog.Definition), versions));
    }

    private static async Task<IResult> PostPredictionsAsync(HttpContext http, PredictionIntake intake, IGrainFactory grains, ILocalSiloDetails silo, IOptions<ConfusionMatrixOptions> options, ILoggerFactory loggers)
    {
        if (IdempotentIntake.ReadKey(http, out var key, out var hashedBody) is { } invalidKey)
        {
            return invalidKey;
        }

        var session = intake.Begin();
        if (await ReadPredictionsAsync(http, session, options.Value.Api.MaxRequestBytes, loggers) is { } refused)
        {
            return refused;
        }

        if (key is not null)
        {
            return await IdempotentIntake.CompleteAsync(http, session, key, hashedBody!, grains, silo);
        }

        var response = await session.CompleteAsync();
        return Results.Json(response, statusCode: IntakeStatus(http, response));
    }

    /// <summary>
    /// 202, or 503 with Retry-After when nothing was acknowledged and the cause is ours, not the input's: the caller
    /// should retry later.
    /// </summary>
    internal static int IntakeStatus(HttpContext http, PredictionsResponse response)
    {
        if (response.Accepted == 0 && response.Rejected.Any(r => r.Reason == RejectionReasons.Unavailable))
        {
            http.Response.Headers.RetryAfter = "5";
            return StatusCodes.Status503ServiceUnavailable;
        }

        return StatusCodes.Status202Accepted;
    }

    private static async Task<IResult> PostLabelsAsync(HttpContext http, LabelIntake intake, IOptions<ConfusionMatrixOptions> options, ILoggerFactory loggers)
    {
        var session = intake.Begin();
        if (await ReadRecordsAsync(http, session, "labels", options.Value.Api.MaxRequestBytes, loggers) is { } refused)
        {
            return refused;
        }

        var response = await session.CompleteAsync();
        if (response.Accepted == 0 && response.Rejected.Any(r => r.Reason == RejectionReasons.Unavailable))
        {
            http.Response.Headers.RetryAfter = "5";
            return Results.Json(response, statusCode: StatusCodes.Status503ServiceUnavailable);
        }

        return Results.Json(response, statusCode: StatusCodes.Status202Accepted);
    }

    /// <summary>
    /// Reads a JSON array or NDJSON body of predictions forward-only from the request's bytes into the session, one
    /// record at a time as the bytes arrive (array elements are cut out with the reader state carried across buffers).
    /// Returns the refusal of the whole request (400 not JSON / not an array, 413 too large), or null when every record
    /// reached the session.
    /// </summary>
    private static async Task<IResult?> ReadPredictionsAsync(HttpContext http, PredictionIntake.Session session, long limit, ILoggerFactory loggers)
    {
        const string what = "predictions";
        var logger = loggers.CreateLogger(typeof(ApiEndpoints).FullName!);
        if (http.Request.ContentLength > limit)
        {
            Log.RequestRefused(logger, 413, $"body of {http.Request.ContentLength} bytes");
            return Problem(413, "Request body too large", $"The body is {http.Request.ContentLength} bytes; at most {limit} are accepted. Split it into several requests.");
        }

        var ndjson = http.Request.ContentType?.StartsWith(NdjsonContentType, StringComparison.OrdinalIgnoreCase) == true;
        var reader = http.Request.BodyReader;
        try
        {
            if (ndjson)
            {
                // Lines are split and read as UTF-8 bytes: a line that is not valid UTF-8 or not JSON is refused on its
                // own (a text reader would quietly turn bad bytes into U+FFFD and count the record).
                await NdjsonLines.ReadAllAsync(reader, (line, first) => NdjsonLines.AddAsync(session, line, first), http.RequestAborted);
            }
            else
            {
                var cutter = new JsonArrayCutter();
                var start = true;
                while (true)
                {
                    var result = await reader.ReadAsync(http.RequestAborted);
                    var buffer = result.Buffer;
                    if (start)
                    {
                        if (buffer.Length < 3 && !result.IsCompleted)
                        {
                            reader.AdvanceTo(buffer.Start, buffer.End);
                            continue;
                        }

                        buffer = NdjsonLines.StartsWithBom(buffer) ? buffer.Slice(3) : buffer;
                        start = false;
                    }

                    while (cutter.TryTake(ref buffer, result.IsCompleted, out var element))
                    {
                        while (session.TryAdd(element, line: false) is { } model)
                        {
                            await session.LoadDefinitionAsync(model);
                        }
                    }

                    if (cutter.Error is { } error)
                    {
                        // Nothing is published before the whole body has been read, so refusing it now counts nothing.
                        // The read is released first, so the server can drain the rest and keep the connection.
                        reader.AdvanceTo(buffer.End);
                        Log.RequestRefused(logger, 400, error);
                        return cutter.NotAnArray
                            ? Problem(400, "Expected a JSON array", $"Send a JSON array of {what}, or NDJSON with Content-Type: {NdjsonContentType}.")
                            : Problem(400, "Malformed JSON", $"The body is not valid JSON ({error}). Send a JSON array of {what}, or NDJSON with Content-Type: {NdjsonContentType}.");
                    }

                    if (result.IsCompleted)
                    {
                        reader.AdvanceTo(buffer.End);
                        break;
                    }

                    reader.AdvanceTo(buffer.Start, buffer.End);
                }
            }
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            Log.RequestRefused(logger, 413, ex.Message);
            return Problem(413, "Request body too large", $"At most {limit} bytes are accepted. Nothing from this request was counted; split it into several requests.");
        }

        session.BodyRead();
        return null;
    }

    /// <summary>
    /// Reads a JSON array or NDJSON body into a session, one record at a time. Returns the refusal of the whole request
    /// (400 not JSON / not an array, 413 too large), or null when every record reached the session.
    /// </summary>
    private static async Task<IResult?> ReadRecordsAsync(HttpContext http, IRecordSession session, string what, long limit, ILoggerFactory loggers)
    {
        var logger = loggers.CreateLogger(typeof(ApiEndpoints).FullName!);
        if (http.Request.ContentLength > limit)
        {
            Log.RequestRefused(logger, 413, $"body of {http.Request.ContentLength} bytes");
            return Problem(413, "Request body too large", $"The body is {http.Request.ContentLength} bytes; at most {limit} are accepted. Split it into several requests.");
        }

        var ndjson = http.Request.ContentType?.StartsWith(NdjsonContentType, StringComparison.OrdinalIgnoreCase) == true;
        try
        {
            if (ndjson)
            {
                // Lines are split and parsed as UTF-8 bytes: a line that is not valid UTF-8 or not JSON is refused on its
                // own (a text reader would quietly turn bad bytes into U+FFFD and count the record).
                var reader = PipeReader.Create(http.Request.Body);
                await NdjsonLines.ReadAllAsync(reader, async (line, first) => await NdjsonLines.AddAsync(session, line, first), http.RequestAborted);

                await reader.CompleteAsync();
            }
            else
            {
                JsonDocument doc;
                try
                {
                    doc = await JsonDocument.ParseAsync(http.Request.Body, cancellationToken: http.RequestAborted);
                }
                catch (JsonException ex)
                {
                    Log.RequestRefused(logger, 400, ex.Message);
                    return Problem(400, "Malformed JSON", $"The body is not valid JSON ({ex.Message}). Send a JSON array of {what}, or NDJSON with Content-Type: {NdjsonContentType}.");
                }

                using (doc)
                {
                    if (doc.RootElement.ValueKind != JsonValueKind.Array)
                    {
                        Log.RequestRefused(logger, 400, "not an array");
                        return Problem(400, "Expected a JSON array", $"Send a JSON array of {what}, or NDJSON with Content-Type: {NdjsonContentType}.");
                    }

                    foreach (var element in doc.RootElement.EnumerateArray())
                    {
                        await session.AddAsync(element);
                    }
                }
            }
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            Log.RequestRefused(logger, 413, ex.Message);
            return Problem(413, "Request body too large", $"At most {limit} bytes are accepted. Nothing from this request was counted; split it into several requests.");
        }

        return null;
    }

    private static async Task<IResult> GetLabelStatsAsync(string model, IGrainFactory grains, ModelDefinitionCache cache)
    {
        var definition = await cache.GetAsync(model);
        if (definition is null)
        {
            return UnknownModel(model);
        }

        var s = await grains.GetGrain<ILabelRouterGrain>(model).GetStatsAsync();
        return Results.Ok(new LabelStatsResponse(
            model, s.Pending, s.Labelled, s.BufferedLabels, s.Applied, s.Duplicates, s.Corrections, s.Stale, s.Orphaned, s.Expired, s.Evicted,
            s.DeliveriesOutstanding, definition.EffectiveLabelTtl, definition.EffectiveLabelGracePeriod));
    }

    private static async Task<IResult> GetMatrixAsync(string model, string version, string segment, string? window, IGrainFactory grains, ModelDefinitionCache cache)
    {
        if (!WindowSpec.TryParse(window ?? "all", out var span, out var error))
        {
            return Problem(400, "Invalid window", error!);
        }

        if (InvalidSegment(segment, out var key) is { } invalid)
        {
            return invalid;
        }

        var definition = await cache.GetAsync(model);
        if (definition is null)
        {
            return UnknownModel(model);
        }

        var view = await grains.GetGrain<ISegmentMatrixGrain>(Segments.MatrixKey(model, version, key)).GetMatrixAsync(span);
        var k = definition.Classes.Length;
        var counts = WireMapping.ToCounts(view, k);
        var metrics = MetricsCalculator.Compute(counts);
        var (distribution, labels) = LabelCoverage(counts, view, definition);
        return Results.Ok(new MatrixResponse(
            model,
            version,
            segment,
            view.Window,
            definition.Classes,
            counts.ToRows(),
            counts.Total,
            HttpMapping.ToResponse(metrics, definition),
            view.AsOf,
            view.BatchesApplied,
            distribution,
            labels));
    }

    private static async Task<IResult> GetBaselineAsync(string model, string version, string segment, IGrainFactory grains, ModelDefinitionCache cache)
    {
        if (InvalidSegment(segment, out _) is { } invalid)
        {
            return invalid;
        }

        var definition = await cache.GetAsync(model);
        if (definition is null)
        {
            return UnknownModel(model);
        }

        var view = await grains.GetGrain<ISegmentMatrixGrain>(Segments.MatrixKey(model, version, segment)).GetBaselineAsync();
        return Results.Ok(new BaselineResponse(model, version, segment, view.Kind.ToString().ToLowerInvariant(), definition.Classes, view.Matrix?.ToRows(), view.Matrix?.Total ?? 0, view.SetAt));
    }

    private static async Task<IResult> PutBaselineAsync(string model, string version, string segment, BaselineRequest? request, IGrainFactory grains, ModelDefinitionCache cache, MLflowBaselines mlflow, HttpContext http, CancellationToken cancellationToken)
    {
        if (InvalidSegment(segment, out _) is { } invalid)
        {
            return invalid;
        }

        var definition = await cache.GetAsync(model);
        if (definition is null)
        {
            return UnknownModel(model);
        }

        if (request?.Mlflow is { } reference)
        {
            http.AddAuditNote($"from MLflow model '{reference.Model}' {(string.IsNullOrWhiteSpace(reference.Alias) ? $"version {reference.Version}" : $"alias {reference.Alias}")}");
            var (resolved, problem) = await mlflow.ResolveAsync(reference, request.Counts is not null, definition.Classes, cancellationToken);
            if (problem is not null)
            {
                return problem;
            }

            request = new BaselineRequest(resolved);
        }

        var k = definition.Classes.Length;
        if (request?.Counts is not { } rows || rows.Count != k || rows.Any(r => r is null || r.Count != k))
        {
            return Problem(400, "Invalid baseline", $"'counts' must be a {k}x{k} matrix (rows are actual classes [{string.Join(", ", definition.Classes)}], columns predicted).");
        }

        if (rows.Any(r => r.Any(c => c < 0)))
        {
            return Problem(400, "Invalid baseline", "'counts' must not contain negative values.");
        }

        try
        {
            _ = rows.Aggregate(0L, (sum, row) => checked(sum + row.Aggregate(0L, (r, c) => checked(r + c))));
        }
        catch (OverflowException)
        {
            return Problem(400, "Invalid baseline", "'counts' add up to more than a 64-bit count can hold.");
        }

        var baseline = WireMapping.ToSparse(rows);
        if (baseline.Total == 0)
        {
            return Problem(400, "Invalid baseline", "'counts' must contain at least one prediction.");
        }

        await grains.GetGrain<ISegmentMatrixGrain>(Segments.MatrixKey(model, version, segment)).SetBaselineAsync(baseline);
        return await GetBaselineAsync(model, version, segment, grains, cache);
    }

    private static async Task<IResult> DeleteBaselineAsync(string model, string version, string segment, IGrainFactory grains, ModelDefinitionCache cache)
    {
        if (InvalidSegment(segment, out _) is { } invalid)
        {
            return invalid;
        }

        if (await cache.GetAsync(model) is null)
        {
            return UnknownModel(model);
        }

        await grains.GetGrain<ISegmentMatrixGrain>(Segments.MatrixKey(model, version, segment)).ClearBaselineAsync();
        return Results.NoContent();
    }

    internal static IResult Problem(int status, string title, string detail) =>
        Results.Problem(title: title, detail: detail, statusCode: status);

    /// <summary>A segment in a route: <c>all</c> or <c>dimension=value</c> (<see cref="SegmentKey"/>); otherwise the 400 to answer.</summary>
    internal static IResult? InvalidSegment(string segment, out SegmentKey key) =>
        SegmentKey.TryParse(segment, out key, out var error) ? null : Problem(400, "Invalid segment", $"{error}.");

    internal static IResult UnknownModel(string model) =>
        Problem(404, "Unknown model", $"Model '{model}' is not registered; POST /api/v1/models first.");

    /// <summary>
    /// The predicted-class distribution of every prediction in the window (labelled, waiting or expired: it needs no
    /// labels, so it is the earliest warning there is) and the window's label coverage and latency.
    /// </summary>
    internal static (IReadOnlyDictionary<string, long> Distribution, LabelCoverageResponse Labels) LabelCoverage(ConfusionCounts counts, MatrixView view, ModelDefinition definition)
    {
        var k = definition.Classes.Length;
        var distribution = new Dictionary<string, long>(StringComparer.Ordinal);
        var pendingByPredicted = new Dictionary<string, long>(StringComparer.Ordinal);
        long pending = 0, expired = 0;
        for (var c = 0; c < k; c++)
        {
            var p = view.PendingByPredicted is { } pp && c < pp.Length ? pp[c] : 0;
            var x = view.ExpiredByPredicted is { } xx && c < xx.Length ? xx[c] : 0;
            pending += p;
            expired += x;
            pendingByPredicted[definition.Classes[c]] = p;
            distribution[definition.Classes[c]] = counts.ColumnTotal(c) + p + x;
        }

        var histogram = view.LabelLatencyHistogram ?? new long[LabelStatusWindows.LatencyBucketCount];
        double? Quantile(double q) => LabelStatusWindows.LatencyQuantile(histogram, q)?.TotalSeconds;
        var all = counts.Total + pending + expired;
        var latency = new LabelLatencyResponse(
            Quantile(0.5),
            Quantile(0.9),
            Quantile(0.99),
            [.. LabelStatusWindows.LatencyBucketUpperBounds.Select(b => (double?)b.TotalSeconds), null],
            histogram);
        return (distribution, new LabelCoverageResponse(counts.Total, pending, expired, all == 0 ? null : (double)counts.Total / all, pendingByPredicted, latency));
    }
}
