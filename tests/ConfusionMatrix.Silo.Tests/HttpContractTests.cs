using System.Collections.Immutable;
using System.Text.Json;
using ConfusionMatrix.Abstractions;
using ConfusionMatrix.Api.Contracts;
using ConfusionMatrix.Grains;
using ConfusionMatrix.Silo.Api;
using ConfusionMatrix.Silo.Hosting;

namespace ConfusionMatrix.Silo.Tests;

/// <summary>
/// The HTTP records of drift reports, rollouts and dead letters carry exactly the JSON the wire records carried when the
/// API returned them directly (the CLI, the operator page and inference services read it): every field, computed ones
/// included, with the same names, values and order, serialised with the options the silo answers with.
/// </summary>
public sealed class HttpContractTests
{
    private static readonly DateTimeOffset At = new(2026, 3, 14, 15, 9, 26, 535, TimeSpan.Zero);

    private static readonly JsonSerializerOptions Http = HttpOptions();

    private static JsonSerializerOptions HttpOptions()
    {
        // ASP.NET Core's own defaults for minimal APIs, then what the silo adds to them.
        var options = new Microsoft.AspNetCore.Http.Json.JsonOptions().SerializerOptions;
        ConfusionMatrixHost.ConfigureJson(options);
        return options;
    }

    private static DriftPolicySettings Policy() => new(
        Alpha: 0.01,
        SevereDrop: 0.2,
        KlThreshold: 0.03,
        MaxFairnessGap: 0.12,
        MinExpectedCellCount: 4,
        MinSamples: 150,
        SmoothingAlpha: 0.25,
        EvaluationInterval: TimeSpan.FromSeconds(30),
        EvidenceThreshold: 400,
        EpochLength: null,
        Tolerance: 0.03,
        MixingStandardDeviation: 0.05,
        LabelDelay: TimeSpan.FromMinutes(15),
        OmnibusHalfInformation: 10_000);

    private static DriftVerdict Verdict(string decision, string segment) => new(
        "fraud", "v2", segment, decision, "recall of 'fraud' dropped", "baseline", 0.031, 0.012, 17.5, 3, 0.0004, 0.0012, 1200, 5000,
        [
            new ClassDeltaView("fraud", "recall", 0.91, 0.72, 0.19, 0.0003, 0.001, 400, 90, true, true, true, 0.08, 0.3, 42.5, true),
            new ClassDeltaView("legit", "fpr", 0.02, 0.021, 0.001, 0.8, 0.001, 4600, 1110, false, false, false),
        ],
        At, 7, 3.25, NonInferior: decision == DriftVerdict.NoDrift);

    private static DriftReport Report() => new(
        "fraud",
        Policy(),
        [Verdict(DriftVerdict.Severe, "all"), Verdict(DriftVerdict.NoDrift, "region=eu")],
        [
            new FairnessVerdict("fraud", "v2", "region", true, "fnr gap in region=eu", [new RateGapView("region=eu", "fnr", 0.3, 0.1, 0.2, 0.002, 0.01, true, true, true)], At),
            new FairnessVerdict("fraud", "v1", "channel", false, "no gap", [], At.AddMinutes(-5)),
        ],
        At.AddSeconds(-3),
        12,
        null);

    private static RolloutView View() => new(
        new RoutingTable("fraud", "v1", "v2", 25, RolloutPhase.RolledBack),
        "v0",
        null,
        new RolloutPolicy(RollbackCanaryOnSevere: false, GuardPeriod: null, Webhooks: ["https://hooks.example/rollout"], DriftPauseKeepsWeight: true)
        {
            WebhookSecret = "a-secret-of-sixteen-or-more",
        },
        [
            new RolloutTransition(1, At.AddHours(-1), RolloutActions.SetStable, "alice", "first release", RolloutPhase.Empty, RolloutPhase.Stable, "v1", null, 0, null),
            new RolloutTransition(2, At, RolloutActions.Rollback, "system:drift-watcher", "severe drift", RolloutPhase.Progressing, RolloutPhase.RolledBack, "v1", "v2", 25, Verdict(DriftVerdict.Severe, "all")),
            new RolloutTransition(3, At.AddMinutes(1), "a-word-of-a-newer-release", "bob", "", RolloutPhase.RolledBack, RolloutPhase.RolledBack, "v1", null, 0, null),
        ]);

    private static string Json<T>(T value) => JsonSerializer.Serialize(value, Http);

    private static void SameJson<TWire, TResponse>(TWire wire, TResponse response)
    {
        var expected = Json(wire);
        var actual = Json(response);
        Assert.Equal(expected, actual);
    }

    [Fact]
    public void DriftReport_IsAnsweredWithTheWireRecordsJson()
    {
        var report = Report();
        SameJson(report, HttpMapping.ToResponse(report));

        // The computed properties are part of the contract, and this sample shows both of their values.
        var json = JsonDocument.Parse(Json(HttpMapping.ToResponse(report))).RootElement;
        Assert.True(json.GetProperty("verdicts")[0].GetProperty("isAlarm").GetBoolean());
        Assert.False(json.GetProperty("verdicts")[1].GetProperty("isAlarm").GetBoolean());
        Assert.Equal("00:00:30", json.GetProperty("policy").GetProperty("effectiveEvaluationInterval").GetString());
        Assert.Equal("06:00:00", json.GetProperty("policy").GetProperty("effectiveEpochLength").GetString());
        Assert.Equal("00:15:00", json.GetProperty("policy").GetProperty("effectiveLabelDelay").GetString());
        Assert.Equal(JsonValueKind.Null, json.GetProperty("epochStartedAt").ValueKind);
    }

    [Fact]
    public void DefaultDriftPolicy_IsAnsweredWithTheWireRecordsJson()
    {
        var policy = new DriftPolicySettings();
        SameJson(policy, HttpMapping.ToResponse(policy));
        var empty = new DriftReport("fresh", policy, [], [], null, 0, null);
        SameJson(empty, HttpMapping.ToResponse(empty));
    }

    [Fact]
    public void RolloutView_IsAnsweredWithTheRedactedWireRecordsJson()
    {
        var view = View();
        var response = HttpMapping.ToResponse(view);
        // What the API answered before: the wire view with its policy redacted.
        SameJson(view with { Policy = view.Policy.Redacted() }, response);

        var json = Json(response);
        Assert.DoesNotContain("a-secret-of-sixteen-or-more", json, StringComparison.Ordinal);
        var policy = JsonDocument.Parse(json).RootElement.GetProperty("policy");
        Assert.Equal(RolloutPolicy.RedactedSecret, policy.GetProperty("webhookSecret").GetString());
        Assert.Equal("01:00:00", policy.GetProperty("effectiveGuardPeriod").GetString());
        var history = JsonDocument.Parse(json).RootElement.GetProperty("history");
        Assert.Equal("rolledBack", history[1].GetProperty("to").GetString());
        Assert.True(history[1].GetProperty("verdict").GetProperty("isAlarm").GetBoolean());
        Assert.False(history[1].TryGetProperty("kind", out _));
        Assert.Equal("a-word-of-a-newer-release", history[2].GetProperty("action").GetString());
    }

    [Fact]
    public void RolloutPolicyWithoutSecret_StaysWithout()
    {
        var policy = new RolloutPolicy(GuardPeriod: TimeSpan.FromMinutes(20));
        SameJson(policy, HttpMapping.ToResponse(policy));
        Assert.Null(HttpMapping.ToResponse(policy).WebhookSecret);
        var empty = new RolloutView(new RoutingTable("fresh", null, null, 0, RolloutPhase.Empty), null, null, policy, []);
        SameJson(empty, HttpMapping.ToResponse(empty));
    }

    [Fact]
    public void RoutingHistoryAndDeadLetters_AreAnsweredWithTheWireRecordsJson()
    {
        var view = View();
        SameJson(view.Routing, HttpMapping.ToResponse(view.Routing));
        var canary = new RoutingTable("fraud", "v1", "v2", 10, RolloutPhase.Progressing);
        SameJson(canary, HttpMapping.ToResponse(canary));

        var page = new RolloutHistoryPage(view.History, 3, 41);
        SameJson(page, HttpMapping.ToResponse(page));
        var last = new RolloutHistoryPage([], null, 0);
        SameJson(last, HttpMapping.ToResponse(last));

        ImmutableArray<DeadLetter> letters =
        [
            new DeadLetter(At, "fraud/3", "batch-1", 250, "unknown class 'spam'"),
            new DeadLetter(At.AddSeconds(2), "fraud/0", "batch-2", 1, "undeserialisable"),
        ];
        SameJson(letters, HttpMapping.ToResponse(letters));
        SameJson(ImmutableArray<DeadLetter>.Empty, HttpMapping.ToResponse(ImmutableArray<DeadLetter>.Empty));
    }

    [Fact]
    public void AuditSnapshots_KeepTheirJson()
    {
        // The trail keeps what was written before the API had records of its own; both must read alike.
        var view = View();
        Assert.Equal(AuditTrail.Snapshot(view.Routing), AuditTrail.Snapshot<object>(HttpMapping.ToResponse(view.Routing)));
        Assert.Equal(AuditTrail.Snapshot(view.Policy.Redacted()), AuditTrail.Snapshot<object>(HttpMapping.ToResponse(view.Policy)));
        Assert.Equal(AuditTrail.Snapshot(Policy()), AuditTrail.Snapshot<object>(HttpMapping.ToResponse(Policy())));
    }

    [Theory]
    [InlineData("{}")]
    [InlineData("""{"alpha":0.01,"minSamples":50,"labelDelay":"00:05:00"}""")]
    [InlineData("""{"severeDrop":0.3,"evaluationInterval":"00:01:00","epochLength":"1.00:00:00","omnibusHalfInformation":5000,"tolerance":0.05}""")]
    public void DriftPolicyRequest_ReadsLikeTheWireRecord(string body)
    {
        // Omitted fields keep the wire record's defaults.
        var request = JsonSerializer.Deserialize<DriftPolicyRequest>(body, Http)!;
        Assert.Equal(JsonSerializer.Deserialize<DriftPolicySettings>(body, Http), HttpMapping.ToPolicy(request));
    }

    [Fact]
    public void DriftPolicyRequest_AcceptsAPolicyReadBack()
    {
        // A policy read with GET and sent back unchanged (its computed fields included) sets the same policy.
        var read = Json(HttpMapping.ToResponse(Policy()));
        Assert.Equal(Policy(), HttpMapping.ToPolicy(JsonSerializer.Deserialize<DriftPolicyRequest>(read, Http)!));
    }

    [Theory]
    [InlineData("{}")]
    [InlineData("""{"pauseCanaryOnDrift":false,"guardPeriod":"00:30:00"}""")]
    [InlineData("""{"rollbackCanaryOnSevere":false,"rollbackPromotionOnDrift":false,"driftPauseKeepsWeight":true,"webhooks":["https://hooks.example/a"],"webhookSecret":"0123456789abcdef"}""")]
    public void RolloutPolicyRequest_ReadsLikeTheWireRecord(string body)
    {
        // Omitted fields keep the wire record's defaults; compared as JSON (the webhook lists are distinct arrays).
        var request = JsonSerializer.Deserialize<RolloutPolicyRequest>(body, Http)!;
        Assert.Equal(Json(JsonSerializer.Deserialize<RolloutPolicy>(body, Http)!), Json(HttpMapping.ToPolicy(request)));
    }
}
