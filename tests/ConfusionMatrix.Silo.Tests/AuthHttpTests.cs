using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using ConfusionMatrix.Silo.Api;
using ConfusionMatrix.Silo.Hosting;
using Microsoft.AspNetCore.Routing;

namespace ConfusionMatrix.Silo.Tests;

/// <summary>
/// A real silo process with API keys configured through environment variables, one key per role; the operator's key
/// is configured by its SHA-256 only. Metrics require the viewer role here, so that they are covered too.
/// </summary>
public sealed class AuthSiloFixture : IAsyncLifetime
{
    public const string ViewerKey = "viewer-key-0f1e2d3c4b5a6978";
    public const string IngestKey = "ingest-key-8a7b6c5d4e3f2a1b";
    public const string OperatorKey = "operator-key-1a2b3c4d5e6f7a8b";
    public const string AdminKey = "admin-key-9f8e7d6c5b4a3928";

    private SiloProcess? _silo;

    public Uri BaseAddress { get; private set; } = new("http://127.0.0.1/");

    public SiloProcess Silo => _silo ?? throw new InvalidOperationException("The silo has not been started.");

    public async Task InitializeAsync()
    {
        var ports = SiloProcess.FreePorts(3);
        BaseAddress = new Uri($"http://127.0.0.1:{ports[0]}/");
        var operatorDigest = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(OperatorKey)));
        _silo = SiloProcess.Start(
            [
                "--urls", $"http://127.0.0.1:{ports[0]}",
                $"--ConfusionMatrix:Clustering:SiloPort={ports[1]}",
                $"--ConfusionMatrix:Clustering:GatewayPort={ports[2]}",
                "--Logging:LogLevel:Default=Warning",
            ],
            new Dictionary<string, string>
            {
                ["ConfusionMatrix__Auth__Mode"] = "ApiKey",
                ["ConfusionMatrix__Auth__MetricsRole"] = "viewer",
                ["ConfusionMatrix__Auth__ApiKeys__grafana__Key"] = ViewerKey,
                ["ConfusionMatrix__Auth__ApiKeys__grafana__Roles__0"] = "viewer",
                ["ConfusionMatrix__Auth__ApiKeys__scorer__Key"] = IngestKey,
                ["ConfusionMatrix__Auth__ApiKeys__scorer__Roles__0"] = "ingest",
                ["ConfusionMatrix__Auth__ApiKeys__oncall__Key"] = $"sha256:{operatorDigest}",
                ["ConfusionMatrix__Auth__ApiKeys__oncall__Roles__0"] = "operator",
                ["ConfusionMatrix__Auth__ApiKeys__platform__Key"] = AdminKey,
                ["ConfusionMatrix__Auth__ApiKeys__platform__Roles__0"] = "admin",
            });

        using var http = Client(null);
        var clock = Stopwatch.StartNew();
        var last = "no answer yet";
        while (clock.Elapsed < TimeSpan.FromSeconds(60))
        {
            Assert.False(_silo.HasExited, $"The silo exited during startup.\n{_silo.OutputTail()}");
            try
            {
                using var response = await http.GetAsync("health");
                if (response.IsSuccessStatusCode)
                {
                    return;
                }

                last = $"/health answered {(int)response.StatusCode}";
            }
            catch (HttpRequestException ex)
            {
                last = ex.Message;
            }

            await Task.Delay(250);
        }

        throw new TimeoutException($"The silo did not become healthy in 60 s (last: {last}).\n{_silo.OutputTail()}");
    }

    /// <summary>A client sending <paramref name="key"/> as X-API-Key, or no key.</summary>
    public HttpClient Client(string? key)
    {
        var http = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(60) };
        if (key is not null)
        {
            http.DefaultRequestHeaders.Add("X-API-Key", key);
        }

        return http;
    }

    public Task DisposeAsync()
    {
        _silo?.Dispose();
        return Task.CompletedTask;
    }
}

/// <summary>Authentication, roles and the audit trail over HTTP on a real silo process.</summary>
public sealed class AuthHttpTests(AuthSiloFixture fixture, Xunit.Abstractions.ITestOutputHelper output) : IClassFixture<AuthSiloFixture>
{
    private static readonly string[] OpenPaths = ["/health", "/health/live", "/health/ready"];

    /// <summary>Every route the silo maps, with its methods, read from the application itself (built, not started).</summary>
    private static async Task<List<(string Method, string Pattern)>> RoutesAsync()
    {
        var builder = Microsoft.AspNetCore.Builder.WebApplication.CreateBuilder(["--urls", "http://127.0.0.1:1"]);
        Assert.Null(ConfusionMatrixHost.TryReadOptions(builder.Configuration, out var options));
        await using var app = ConfusionMatrixHost.Build(builder, options);
        return [.. ((IEndpointRouteBuilder)app).DataSources.SelectMany(d => d.Endpoints).OfType<RouteEndpoint>()
            .SelectMany(e => (e.Metadata.GetMetadata<Microsoft.AspNetCore.Routing.HttpMethodMetadata>()?.HttpMethods ?? ["GET"]).Select(m => (m, "/" + e.RoutePattern.RawText!.TrimStart('/'))))
            .Distinct()];
    }

    private static string Concrete(string pattern)
    {
        var path = pattern
            .Replace("{model}", "auth-routes", StringComparison.Ordinal)
            .Replace("{version}", "v1", StringComparison.Ordinal)
            .Replace("{segment}", "all", StringComparison.Ordinal)
            .Replace("{action}", "rollback", StringComparison.Ordinal);

        // Any other parameter (the dashboard's, catch-alls) gets a plain value.
        return System.Text.RegularExpressions.Regex.Replace(path, @"\{[^}]+\}", "x");
    }

    [Fact]
    public async Task WithoutAKey_EveryEndpointButHealth_Answers401ProblemDetails()
    {
        var routes = await RoutesAsync();

        // The list is the application's own, so it cannot miss a route; check it holds what it must.
        Assert.Contains(("POST", "/api/v1/models/{model}/rollout/{action}"), routes);
        Assert.Contains(("GET", "/api/v1/audit"), routes);
        Assert.Contains(routes, r => r.Pattern.StartsWith("/dashboard", StringComparison.Ordinal));
        Assert.Contains(("GET", "/metrics"), routes);

        using var anonymous = fixture.Client(null);
        var checkedRoutes = 0;
        var wrong = new List<string>();
        foreach (var (method, pattern) in routes)
        {
            var path = Concrete(pattern);
            using var request = new HttpRequestMessage(new HttpMethod(method), path.TrimStart('/'));
            if (method is "POST" or "PUT" or "PATCH")
            {
                request.Content = new StringContent("{}", Encoding.UTF8, "application/json");
            }

            using var response = await anonymous.SendAsync(request);
            var expected = OpenPaths.Contains(pattern) ? HttpStatusCode.OK : HttpStatusCode.Unauthorized;
            if (response.StatusCode != expected)
            {
                wrong.Add($"{method} {path}: {(int)response.StatusCode}, expected {(int)expected}");
            }
            else if (expected == HttpStatusCode.Unauthorized)
            {
                Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
                using var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
                Assert.Equal(401, problem.RootElement.GetProperty("status").GetInt32());
                Assert.Contains("X-API-Key", response.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
            }

            checkedRoutes++;
        }

        Expect.Equal(0, wrong.Count, $"routes answering wrongly, of {checkedRoutes}:\n{string.Join("\n", wrong)}");
        Assert.True(checkedRoutes >= 25, $"only {checkedRoutes} routes");
        output.WriteLine($"{checkedRoutes} routes checked: {checkedRoutes - OpenPaths.Length} answered 401, {OpenPaths.Length} health routes 200");

        // A wrong key is refused the same way, and both are counted by reason.
        using var wrongKey = fixture.Client("not-a-key-of-this-silo");
        using (var refused = await wrongKey.GetAsync("api/v1/me"))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
            Assert.Contains("not valid", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        using var viewer = fixture.Client(AuthSiloFixture.ViewerKey);
        var metrics = await viewer.GetStringAsync("metrics");
        Assert.True(Counter(metrics, "confusionmatrix_http_refused_total", "reason=\"missing_credentials\"") >= checkedRoutes - OpenPaths.Length, metrics);
        Assert.True(Counter(metrics, "confusionmatrix_http_refused_total", "reason=\"invalid_credentials\"") >= 1);
    }

    [Fact]
    public async Task OpenApiDocument_IsServedToReaders_AndListsTheContract()
    {
        using var anonymous = fixture.Client(null);
        using (var refused = await anonymous.GetAsync("openapi/v1.json"))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        }

        using var viewer = fixture.Client(AuthSiloFixture.ViewerKey);
        using var response = await viewer.GetAsync("openapi/v1.json");
        var text = await response.Content.ReadAsStringAsync();
        Expect.Equal(HttpStatusCode.OK, response.StatusCode, text);
        using var document = JsonDocument.Parse(text);
        Assert.StartsWith("3.", document.RootElement.GetProperty("openapi").GetString(), StringComparison.Ordinal);
        var paths = document.RootElement.GetProperty("paths");
        string[] methods(string path) => paths.TryGetProperty(path, out var item) ? [.. item.EnumerateObject().Select(m => m.Name)] : [];
        Assert.Contains("post", methods("/api/v1/models"));
        Assert.Contains("post", methods("/api/v1/predictions"));
        Assert.Contains("post", methods("/api/v1/labels"));
        Assert.Contains("get", methods("/api/v1/models/{model}/versions/{version}/segments/{segment}/matrix"));
        Assert.Contains("put", methods("/api/v1/models/{model}/versions/{version}/segments/{segment}/baseline"));
        Assert.Contains("get", methods("/api/v1/models/{model}/drift"));
        Assert.Contains("get", methods("/api/v1/models/{model}/rollout"));
        Assert.Contains("get", methods("/api/v1/models/{model}/rollout/gate"));
        Assert.Contains("get", methods("/api/v1/models/{model}/rollout/history"));
        Assert.Contains("get", methods("/api/v1/audit"));
        foreach (var action in RolloutEndpoints.Actions)
        {
            Assert.Contains("post", methods($"/api/v1/models/{{model}}/rollout/{action}"));
        }

        // Drift, rollout and dead-letter answers are described by the API's own records.
        var schemas = document.RootElement.GetProperty("components").GetProperty("schemas");
        foreach (var name in new[] { "DriftReportResponse", "DriftVerdictResponse", "DriftPolicyResponse", "DriftPolicyRequest", "RolloutViewResponse", "RoutingTableResponse", "RolloutHistoryPageResponse", "RolloutPolicyResponse", "DeadLetterResponse" })
        {
            Assert.True(schemas.TryGetProperty(name, out _), $"components/schemas has no {name}");
        }

        string okSchema(string path, string method)
        {
            var schema = paths.GetProperty(path).GetProperty(method).GetProperty("responses").GetProperty("200").GetProperty("content").GetProperty("application/json").GetProperty("schema");
            return schema.TryGetProperty("items", out var items) ? $"[{items.GetProperty("$ref").GetString()}]" : schema.GetProperty("$ref").GetString()!;
        }

        Assert.Equal("#/components/schemas/DriftReportResponse", okSchema("/api/v1/models/{model}/drift", "get"));
        Assert.Equal("#/components/schemas/DriftReportResponse", okSchema("/api/v1/models/{model}/drift/evaluate", "post"));
        Assert.Equal("#/components/schemas/DriftReportResponse", okSchema("/api/v1/models/{model}/drift/policy", "put"));
        Assert.Equal("#/components/schemas/RolloutViewResponse", okSchema("/api/v1/models/{model}/rollout", "get"));
        Assert.Equal("#/components/schemas/RolloutViewResponse", okSchema("/api/v1/models/{model}/rollout/policy", "put"));
        Assert.Equal("#/components/schemas/RolloutViewResponse", okSchema("/api/v1/models/{model}/rollout/promote", "post"));
        Assert.Equal("#/components/schemas/RoutingTableResponse", okSchema("/api/v1/models/{model}/rollout/routing", "get"));
        Assert.Equal("#/components/schemas/RolloutHistoryPageResponse", okSchema("/api/v1/models/{model}/rollout/history", "get"));
        Assert.Equal("[#/components/schemas/DeadLetterResponse]", okSchema("/api/v1/models/{model}/dead-letters", "get"));

        // Enums are documented as the strings the API writes.
        var phase = schemas.GetProperty("RoutingTableResponse").GetProperty("properties").GetProperty("phase");
        if (phase.TryGetProperty("$ref", out var reference))
        {
            phase = schemas.GetProperty(reference.GetString()!["#/components/schemas/".Length..]);
        }

        Assert.Contains("rolledBack", phase.GetProperty("enum").EnumerateArray().Select(e => e.GetString()));
    }

    [Fact]
    public async Task EachKey_HasItsRoles_AndTheOperatorsRollbackIsAuditedWithItsName()
    {
        const string model = "auth-rollout";
        using var admin = fixture.Client(AuthSiloFixture.AdminKey);
        using var viewer = fixture.Client(AuthSiloFixture.ViewerKey);
        using var ingest = fixture.Client(AuthSiloFixture.IngestKey);
        using var operatorClient = fixture.Client(AuthSiloFixture.OperatorKey);

        var me = JsonDocument.Parse(await operatorClient.GetStringAsync("api/v1/me")).RootElement;
        Assert.Equal("oncall", me.GetProperty("name").GetString());
        Assert.Equal(["operator"], me.GetProperty("roles").EnumerateArray().Select(r => r.GetString()));

        // Registering a model is an admin's; the operator may not.
        Assert.Equal(HttpStatusCode.Forbidden, (await PostAsync(operatorClient, "api/v1/models", new { model, classes = new[] { "a", "b" } })).Status);
        Assert.Equal(HttpStatusCode.OK, (await PostAsync(admin, "api/v1/models", new { model, classes = new[] { "a", "b" } })).Status);

        // The scoring service posts predictions and nothing else.
        var posted = await PostAsync(ingest, "api/v1/predictions", new[] { new { predictionId = "p1", model, version = "v2", predicted = "a", actual = "b" } });
        Assert.Equal(HttpStatusCode.Accepted, posted.Status);
        Assert.Equal(HttpStatusCode.Forbidden, (await PostAsync(ingest, $"api/v1/models/{model}/rollout/rollback", new { reason = "no" })).Status);
        Assert.Equal(HttpStatusCode.Forbidden, (await GetAsync(ingest, $"api/v1/models/{model}/rollout")).Status);

        Assert.Equal(HttpStatusCode.OK, (await PostAsync(operatorClient, $"api/v1/models/{model}/rollout/set-stable", new { version = "v1", reason = "first" })).Status);
        Assert.Equal(HttpStatusCode.OK, (await PostAsync(operatorClient, $"api/v1/models/{model}/rollout/start-canary", new { version = "v2", weight = 20, reason = "try v2" })).Status);

        // The viewer reads and may not act: 403 with problem details naming the role needed.
        Assert.Equal(HttpStatusCode.OK, (await GetAsync(viewer, $"api/v1/models/{model}/rollout")).Status);
        var forbidden = await PostAsync(viewer, $"api/v1/models/{model}/rollout/rollback", new { reason = "viewer tries" });
        Expect.Status(HttpStatusCode.Forbidden, forbidden);
        Assert.Equal("application/problem+json", forbidden.ContentType);
        Assert.Contains("operator", forbidden.Json.GetProperty("detail").GetString(), StringComparison.Ordinal);

        // The operator rolls back; the body's actor is not who the silo records.
        var rollback = await PostAsync(operatorClient, $"api/v1/models/{model}/rollout/rollback", new { reason = "canary recall dropped", actor = "someone-else" });
        Expect.Status(HttpStatusCode.OK, rollback);
        var last = rollback.Json.GetProperty("history").EnumerateArray().Last();
        Assert.Equal("rollback", last.GetProperty("action").GetString());
        Assert.Equal("oncall", last.GetProperty("actor").GetString());

        var page = JsonDocument.Parse(await viewer.GetStringAsync($"api/v1/audit?model={model}")).RootElement;
        var records = page.GetProperty("records").EnumerateArray().ToList();
        Assert.Equal(["model.register", "rollout.set-stable", "rollout.start-canary", "rollout.rollback"], records.Select(r => r.GetProperty("action").GetString()));
        Assert.Equal("platform", records[0].GetProperty("principal").GetString());
        var audited = records[^1];
        Assert.Equal("oncall", audited.GetProperty("principal").GetString());
        Assert.Equal(["operator"], audited.GetProperty("roles").EnumerateArray().Select(r => r.GetString()));
        Assert.Equal($"POST /api/v1/models/{model}/rollout/rollback", audited.GetProperty("target").GetString());
        Assert.Equal(200, audited.GetProperty("status").GetInt32());
        Assert.Contains("canary recall dropped", audited.GetProperty("note").GetString(), StringComparison.Ordinal);
        Assert.Contains("someone-else", audited.GetProperty("note").GetString(), StringComparison.Ordinal);
        Assert.Equal("v2", audited.GetProperty("before").GetProperty("canary").GetString());
        Assert.Equal(20, audited.GetProperty("before").GetProperty("canaryWeightPercent").GetInt32());
        Assert.Equal(JsonValueKind.Null, audited.GetProperty("after").GetProperty("canary").ValueKind);
        Assert.Equal("rolledBack", audited.GetProperty("after").GetProperty("phase").GetString());
        Assert.False(string.IsNullOrEmpty(audited.GetProperty("requestId").GetString()));

        // Refused attempts left no record; the pages follow each other.
        var first = JsonDocument.Parse(await viewer.GetStringAsync($"api/v1/audit?model={model}&limit=3")).RootElement;
        Assert.Equal(3, first.GetProperty("records").GetArrayLength());
        var next = first.GetProperty("next").GetInt64();
        var second = JsonDocument.Parse(await viewer.GetStringAsync($"api/v1/audit?model={model}&after={next}")).RootElement;
        Assert.Equal("rollout.rollback", Assert.Single(second.GetProperty("records").EnumerateArray()).GetProperty("action").GetString());
        Assert.Equal(JsonValueKind.Null, second.GetProperty("next").ValueKind);

        // Nothing in the trail can be changed, not even by an admin.
        foreach (var method in new[] { HttpMethod.Post, HttpMethod.Put, HttpMethod.Delete, HttpMethod.Patch })
        {
            using var request = new HttpRequestMessage(method, $"api/v1/audit?model={model}") { Content = new StringContent("{}", Encoding.UTF8, "application/json") };
            using var response = await admin.SendAsync(request);
            Assert.Equal(HttpStatusCode.MethodNotAllowed, response.StatusCode);
        }

        Assert.Equal(4, JsonDocument.Parse(await viewer.GetStringAsync($"api/v1/audit?model={model}")).RootElement.GetProperty("records").GetArrayLength());

        // The ingest key cannot read the trail; the dashboard is the operator's.
        Assert.Equal(HttpStatusCode.Forbidden, (await GetAsync(ingest, $"api/v1/audit?model={model}")).Status);
        Assert.Equal(HttpStatusCode.Forbidden, (await GetAsync(viewer, "dashboard/")).Status);
        Assert.Equal(HttpStatusCode.OK, (await GetAsync(operatorClient, "dashboard/")).Status);
        var metrics = await viewer.GetStringAsync("metrics");
        Assert.True(Counter(metrics, "confusionmatrix_http_refused_total", "reason=\"forbidden\"") >= 5, metrics);
    }

    [Fact]
    public async Task WebhookToALoopbackAddress_IsRefusedAndCounted()
    {
        const string model = "auth-webhooks";
        using var admin = fixture.Client(AuthSiloFixture.AdminKey);
        using var viewer = fixture.Client(AuthSiloFixture.ViewerKey);
        var port = SiloProcess.FreePorts(1)[0];
        using var listener = new HttpListener();
        listener.Prefixes.Add($"http://127.0.0.1:{port}/");
        listener.Start();
        var received = new ConcurrentQueue<string>();
        _ = Task.Run(async () =>
        {
            while (listener.IsListening)
            {
                try
                {
                    var context = await listener.GetContextAsync();
                    received.Enqueue(context.Request.Url!.ToString());
                    context.Response.Close();
                }
                catch (Exception) when (!listener.IsListening)
                {
                    return;
                }
            }
        });

        var before = Counter(await viewer.GetStringAsync("metrics"), "confusionmatrix_webhook_dropped_total", "reason=\"private_address\"");
        Assert.Equal(HttpStatusCode.OK, (await PostAsync(admin, "api/v1/models", new { model, classes = new[] { "a", "b" } })).Status);
        var policy = await PutAsync(admin, $"api/v1/models/{model}/rollout/policy", new { webhooks = new[] { $"http://127.0.0.1:{port}/hook" }, webhookSecret = "a-secret-of-enough-length" });
        Expect.Status(HttpStatusCode.OK, policy);

        // The policy change is audited with the secret hidden.
        var audit = JsonDocument.Parse(await viewer.GetStringAsync($"api/v1/audit?model={model}")).RootElement.GetProperty("records").EnumerateArray().Last();
        Assert.Equal("rollout.policy", audit.GetProperty("action").GetString());
        Assert.Equal("********", audit.GetProperty("after").GetProperty("webhookSecret").GetString());

        var deadline = Stopwatch.StartNew();
        double after;
        while ((after = Counter(await viewer.GetStringAsync("metrics"), "confusionmatrix_webhook_dropped_total", "reason=\"private_address\"")) <= before)
        {
            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(30), $"no private_address drop counted\n{fixture.Silo.OutputTail()}");
            await Task.Delay(200);
        }

        Assert.Equal(before + 1, after);
        await Task.Delay(500);
        Assert.Empty(received);
        listener.Stop();
    }

    /// <summary>Sum of a Prometheus counter's samples whose labels contain <paramref name="label"/>.</summary>
    private static double Counter(string exposition, string name, string label) =>
        exposition.Split('\n')
            .Where(l => l.StartsWith(name + "{", StringComparison.Ordinal) && l.Contains(label, StringComparison.Ordinal))
            .Sum(l => double.Parse(l[(l.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture));

    private static async Task<ApiResponse> SendAsync(HttpClient http, HttpRequestMessage request)
    {
        using (request)
        {
            using var response = await http.SendAsync(request);
            var result = new ApiResponse(response.StatusCode, response.Content.Headers.ContentType?.MediaType, await response.Content.ReadAsStringAsync());
            Assert.True((int)response.StatusCode < 500, result.ToString());
            return result;
        }
    }

    private static Task<ApiResponse> GetAsync(HttpClient http, string path) => SendAsync(http, new HttpRequestMessage(HttpMethod.Get, path));

    private static Task<ApiResponse> PostAsync(HttpClient http, string path, object body) =>
        SendAsync(http, new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(JsonSerializer.Serialize(body, JsonSerializerOptions.Web), Encoding.UTF8, "application/json") });

    private static Task<ApiResponse> PutAsync(HttpClient http, string path, object body) =>
        SendAsync(http, new HttpRequestMessage(HttpMethod.Put, path) { Content = new StringContent(JsonSerializer.Serialize(body, JsonSerializerOptions.Web), Encoding.UTF8, "application/json") });
}
