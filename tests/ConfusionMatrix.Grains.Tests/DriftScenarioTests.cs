using ConfusionMatrix.Abstractions;
using static ConfusionMatrix.Tests.Shared.ClusterTestHelpers;

namespace ConfusionMatrix.Grains.Tests;

/// <summary>The rollout scenarios: fixed seeds, an injected clock, the real grains on a test cluster.</summary>
[Collection(ClusterCollection.Name)]
public sealed class DriftScenarioTests(ClusterFixture fixture)
{
    private static readonly FraudTraffic Healthy = new(Prevalence: 0.04, RecallEu: 0.92, RecallUs: 0.92);

    /// <summary>The seed story: fraud recall on region=EU drops 15% (0.92 to 0.78) in the canary during a holiday.</summary>
    private static readonly FraudTraffic HolidayEuDrop = new(Prevalence: 0.04, RecallEu: 0.92 * 0.85, RecallUs: 0.92);

    [Fact]
    public async Task A_CanaryWithEuRecallDrop_IsPaused_AndStableIsUntouched()
    {
        var (model, rollout, watcher) = await StartCanaryAsync("seed-story", weight: 50);
        await Healthy.SendAsync(fixture.Client, model, "v1", 60_000, seed: 1);
        await HolidayEuDrop.SendAsync(fixture.Client, model, "v2", 60_000, seed: 2);

        var report = await watcher.EvaluateNowAsync();

        var state = await rollout.GetStateAsync();
        Assert.Equal(RolloutPhase.Paused, state.Routing.Phase);
        Assert.Equal("v1", state.Routing.Stable);
        Assert.Equal("v2", state.Routing.Canary);
        Assert.Equal(0, state.Routing.CanaryWeightPercent);
        var pause = state.History[^1];
        Assert.Equal("pause", pause.Action);
        Assert.Equal(RolloutControllerGrain.DriftWatcherActor, pause.Actor);
        Assert.NotNull(pause.Verdict);
        Assert.Contains("fraud", pause.Reason);

        // The automatic pause is in the model's audit trail, as the drift watcher, with the routing before and after.
        var audit = await fixture.Client.GetGrain<IAuditTrailGrain>(model).ReadAsync(null, null, 100);
        var paused = Assert.Single(audit.Records, r => r.Action == "rollout.pause");
        Assert.Equal($"system:{RolloutControllerGrain.DriftWatcherActor}", paused.Principal);
        Assert.Equal(pause.Reason, paused.Note);
        Assert.Contains("\"canaryWeightPercent\":50", paused.Before, StringComparison.Ordinal);
        Assert.Contains("\"phase\":\"paused\"", paused.After, StringComparison.Ordinal);

        var eu = Verdict(report, "v2", "region=EU");
        Assert.Equal(DriftVerdict.Drift, eu.Decision);
        var recall = eu.ClassDeltas.Single(d => d.Class == "fraud" && d.Metric == "recall");
        Assert.True(recall.Significant && recall.Material, recall.ToString());
        Assert.True(recall.LowerBound is > 0.02 and < 0.15, $"drift, not severe: {recall}");
        Assert.True(eu.Kl < 0.02, $"KL {eu.Kl} should be small: the per-class test, not KL, catches a rare-class drop");
        Assert.Equal(DriftVerdict.NoDrift, Verdict(report, "v2", "region=US").Decision);
        Assert.DoesNotContain(report.Verdicts, v => v.Version == "v1" && v.IsAlarm);

        var gate = await watcher.GateAsync("v2");
        Assert.False(gate.Pass || gate.Inconclusive, gate.Reason);
    }

    [Fact]
    public async Task A2_DriftPauseKeepsWeight_PausesWithoutTakingTheCanarysTraffic()
    {
        var (model, rollout, watcher) = await StartCanaryAsync("pause-keeps-weight", weight: 50);
        await rollout.SetPolicyAsync(new RolloutPolicy(DriftPauseKeepsWeight: true), "operator:alice");
        await Healthy.SendAsync(fixture.Client, model, "v1", 60_000, seed: 1);
        await HolidayEuDrop.SendAsync(fixture.Client, model, "v2", 60_000, seed: 2);

        await watcher.EvaluateNowAsync();

        var routing = await rollout.GetRoutingAsync();
        Assert.Equal(RolloutPhase.Paused, routing.Phase);
        Assert.Equal(50, routing.CanaryWeightPercent);
    }

    [Fact]
    public async Task B_NoDrift_OverManyEvaluationRounds_TriggersNothing()
    {
        var (model, rollout, watcher) = await StartCanaryAsync("no-drift", weight: 50);
        for (var round = 0; round < 40; round++)
        {
            await Healthy.SendAsync(fixture.Client, model, "v1", 1500, seed: 1000 + round);
            await Healthy.SendAsync(fixture.Client, model, "v2", 1500, seed: 2000 + round);
            var report = await watcher.EvaluateNowAsync();
            Assert.DoesNotContain(report.Verdicts, v => v.IsAlarm);
        }

        var state = await rollout.GetStateAsync();
        Assert.Equal(RolloutPhase.Progressing, state.Routing.Phase);
        Assert.Equal(["set-stable", "start-canary"], state.History.Select(t => t.Action));
        var final = await watcher.GetReportAsync();
        Assert.Contains(final.Verdicts, v => v.Version == "v2" && v.Segment == Segments.All && v.Decision == DriftVerdict.NoDrift && v.Looks >= 40);

        // 60k predictions per version do not yet bound every drop below 0.02: not a pass, not a fail either.
        var gate = await watcher.GateAsync("v2");
        Assert.True(gate.Pass || gate.Inconclusive, gate.Reason);
        Assert.DoesNotContain("drift", gate.Reason);
    }

    [Fact]
    public async Task C_PromotedVersionDegradingInGuardPeriod_IsRolledBack()
    {
        var (model, rollout, watcher) = await StartCanaryAsync("guard", weight: 50);
        await Healthy.SendAsync(fixture.Client, model, "v1", 30_000, seed: 11);
        await Healthy.SendAsync(fixture.Client, model, "v2", 30_000, seed: 12);
        Assert.DoesNotContain((await watcher.EvaluateNowAsync()).Verdicts, v => v.IsAlarm);

        var epochBefore = (await watcher.GetReportAsync()).EpochStartedAt;
        ClusterFixture.Time.Advance(TimeSpan.FromSeconds(1));
        await rollout.PromoteAsync("operator:alice", "canary looked good");
        await WaitForNewEpochAsync(watcher, epochBefore);

        var degraded = new FraudTraffic(Prevalence: 0.04, RecallEu: 0.60, RecallUs: 0.60);
        await degraded.SendAsync(fixture.Client, model, "v2", 30_000, seed: 13);
        await watcher.EvaluateNowAsync();

        var state = await rollout.GetStateAsync();
        Assert.Equal(RolloutPhase.RolledBack, state.Routing.Phase);
        Assert.Equal("v1", state.Routing.Stable);
        Assert.Equal("v2", state.PreviousStable);
        var rollback = state.History[^1];
        Assert.Equal("rollback", rollback.Action);
        Assert.Equal(RolloutControllerGrain.DriftWatcherActor, rollback.Actor);
        Assert.Contains("guard period", rollback.Reason);
        Assert.Contains("previous stable v1", rollback.Verdict!.Reference);
    }

    [Fact]
    public async Task D_FalseNegativeRateGapAcrossRegions_RaisesFairnessAlert()
    {
        var model = UniqueModel("fairness");
        await RegisterFraudModelAsync(model);
        var unequal = new FraudTraffic(Prevalence: 0.05, RecallEu: 0.70, RecallUs: 0.92);
        await unequal.SendAsync(fixture.Client, model, "v1", 40_000, seed: 21);

        var report = await fixture.Client.GetGrain<IDriftWatcherGrain>(model).EvaluateNowAsync();

        var fairness = Assert.Single(report.Fairness, f => f.Version == "v1" && f.Dimension == "region");
        Assert.True(fairness.Alert, fairness.Reason);
        var gap = fairness.Gaps.Single(g => g.Segment == "region=EU" && g.Metric == "fnr");
        Assert.True(gap.Gap > 0.1 && gap.Significant && gap.Material, gap.ToString());
        Assert.Contains("region=EU", fairness.Reason);
    }

    [Fact]
    public async Task E_TooFewSamples_StaysInsufficientEvidence()
    {
        var (model, rollout, watcher) = await StartCanaryAsync("few", weight: 5);
        await Healthy.SendAsync(fixture.Client, model, "v1", 3000, seed: 31);
        await HolidayEuDrop.SendAsync(fixture.Client, model, "v2", 60, seed: 32);

        var report = await watcher.EvaluateNowAsync();

        Assert.All(report.Verdicts.Where(v => v.Version == "v2"), v => Assert.Equal(DriftVerdict.InsufficientEvidence, v.Decision));
        Assert.Contains(report.Verdicts, v => v.Version == "v2" && v.Segment == Segments.All);
        Assert.Equal(RolloutPhase.Progressing, (await rollout.GetRoutingAsync()).Phase);

        // No judged segment: the gate must not pass.
        var gate = await watcher.GateAsync("v2");
        Assert.True(gate.Inconclusive && !gate.Pass, gate.Reason);
    }

    [Fact]
    public async Task E2_WithALabelDelay_OnlyMaturedCohortsAreJudged_ForBothArms()
    {
        var (model, rollout, watcher) = await StartCanaryAsync("label-delay", weight: 50);
        await watcher.SetPolicyAsync(new DriftPolicySettings(EvaluationInterval: TimeSpan.FromHours(1), EvidenceThreshold: 100_000_000, LabelDelay: TimeSpan.FromHours(2)));
        await Healthy.SendAsync(fixture.Client, model, "v1", 60_000, seed: 81);
        await HolidayEuDrop.SendAsync(fixture.Client, model, "v2", 60_000, seed: 82);

        var early = await watcher.EvaluateNowAsync();
        var earlyGate = await watcher.GateAsync("v2");

        ClusterFixture.Time.Advance(TimeSpan.FromHours(3));
        var matured = await watcher.EvaluateNowAsync();

        Assert.All(early.Verdicts.Where(v => v.Version == "v2"), v => Assert.Equal(DriftVerdict.InsufficientEvidence, v.Decision));
        Assert.True(earlyGate.Inconclusive && !earlyGate.Pass, earlyGate.Reason);
        var eu = Verdict(matured, "v2", "region=EU");
        Assert.True(eu.IsAlarm, eu.Reason);
        Assert.Contains("same prediction-time cohorts", eu.Reference);
        Assert.NotEqual(RolloutPhase.Progressing, (await rollout.GetRoutingAsync()).Phase);
    }

    [Fact]
    public async Task F_EqualQualityWithDifferentVolumes_IsNotFlagged()
    {
        var (model, rollout, watcher) = await StartCanaryAsync("volumes", weight: 5);
        await Healthy.SendAsync(fixture.Client, model, "v1", 95_000, seed: 41);
        await Healthy.SendAsync(fixture.Client, model, "v2", 5_000, seed: 42);

        var report = await watcher.EvaluateNowAsync();

        var all = Verdict(report, "v2", Segments.All);
        Assert.Equal(DriftVerdict.NoDrift, all.Decision);
        Assert.True(all.ReferenceTotal > 15 * all.LiveTotal);
        Assert.DoesNotContain(report.Verdicts, v => v.IsAlarm);
        Assert.Equal(RolloutPhase.Progressing, (await rollout.GetRoutingAsync()).Phase);
    }

    [Fact]
    public async Task G_SevereDrop_RollsTheCanaryBack_PerPolicy()
    {
        var (model, rollout, watcher) = await StartCanaryAsync("severe", weight: 20);
        await Healthy.SendAsync(fixture.Client, model, "v1", 40_000, seed: 51);
        await new FraudTraffic(Prevalence: 0.04, RecallEu: 0.50, RecallUs: 0.50).SendAsync(fixture.Client, model, "v2", 20_000, seed: 52);

        await watcher.EvaluateNowAsync();

        var state = await rollout.GetStateAsync();
        Assert.Equal(RolloutPhase.RolledBack, state.Routing.Phase);
        Assert.Null(state.Routing.Canary);
        Assert.Equal("v1", state.Routing.Stable);
        var rollback = state.History[^1];
        Assert.Equal("rollback", rollback.Action);
        Assert.Equal(DriftVerdict.Severe, rollback.Verdict!.Decision);
        Assert.DoesNotContain(state.History, t => t.Action == "pause");
    }

    [Fact]
    public async Task H_SevereDrop_OnlyPauses_WhenPolicySaysSo()
    {
        var (model, rollout, watcher) = await StartCanaryAsync("severe-pause", weight: 20);
        await rollout.SetPolicyAsync(new RolloutPolicy(PauseCanaryOnDrift: true, RollbackCanaryOnSevere: false), "operator:alice");
        await Healthy.SendAsync(fixture.Client, model, "v1", 40_000, seed: 61);
        await new FraudTraffic(Prevalence: 0.04, RecallEu: 0.50, RecallUs: 0.50).SendAsync(fixture.Client, model, "v2", 20_000, seed: 62);

        await watcher.EvaluateNowAsync();

        var state = await rollout.GetStateAsync();
        Assert.Equal(RolloutPhase.Paused, state.Routing.Phase);
        Assert.Equal("v2", state.Routing.Canary);
        Assert.Equal(DriftVerdict.Severe, state.History[^1].Verdict!.Decision);
    }

    [Fact]
    public async Task I_WithoutExplicitLooks_SegmentEvidenceAndTheTimerPauseTheCanary()
    {
        var (model, rollout, watcher) = await StartCanaryAsync("timer", weight: 50);
        await watcher.SetPolicyAsync(new DriftPolicySettings(EvaluationInterval: TimeSpan.FromMilliseconds(200)));
        await Healthy.SendAsync(fixture.Client, model, "v1", 60_000, seed: 71);
        await HolidayEuDrop.SendAsync(fixture.Client, model, "v2", 60_000, seed: 72);

        // Segments report new evidence to the watcher; its timer evaluates them. Nobody calls EvaluateNowAsync here.
        var routing = await Eventually.MatchesAsync(
            async () => await rollout.GetRoutingAsync(),
            r => r.Phase != RolloutPhase.Progressing,
            "the drift watcher acting on its own",
            interval: TimeSpan.FromMilliseconds(100));

        Assert.True(routing.Phase is RolloutPhase.Paused or RolloutPhase.RolledBack, routing.ToString());
        Assert.Equal("v1", routing.Stable);
        var report = await watcher.GetReportAsync();
        Assert.True(report.Evaluations > 0);
        Assert.Contains(report.Verdicts, v => v.Version == "v2" && v.IsAlarm);
    }

    private async Task<(string Model, IRolloutControllerGrain Rollout, IDriftWatcherGrain Watcher)> StartCanaryAsync(string stem, int weight)
    {
        var model = UniqueModel(stem);
        await RegisterFraudModelAsync(model);
        var rollout = fixture.Client.GetGrain<IRolloutControllerGrain>(model);
        var watcher = fixture.Client.GetGrain<IDriftWatcherGrain>(model);

        // Only the explicit evaluations of each scenario judge: no timer or evidence-triggered look in between.
        await watcher.SetPolicyAsync(new DriftPolicySettings(EvaluationInterval: TimeSpan.FromHours(1), EvidenceThreshold: 100_000_000));
        await rollout.SetStableAsync("v1", "operator:alice", "initial release");
        await WaitForNewEpochAsync(watcher, null);
        var epoch = (await watcher.GetReportAsync()).EpochStartedAt;
        ClusterFixture.Time.Advance(TimeSpan.FromSeconds(1));
        await rollout.StartCanaryAsync("v2", weight, "operator:alice", "holiday model");
        await WaitForNewEpochAsync(watcher, epoch);
        return (model, rollout, watcher);
    }

    /// <summary>Epoch starts are one-way messages; wait until the watcher has taken the new one.</summary>
    private static Task WaitForNewEpochAsync(IDriftWatcherGrain watcher, DateTimeOffset? previous) =>
        Eventually.TrueAsync(
            async () => (await watcher.GetReportAsync()).EpochStartedAt is { } started && started != previous,
            "the drift watcher starting a new epoch",
            TimeSpan.FromSeconds(10),
            TimeSpan.FromMilliseconds(20));

    private Task RegisterFraudModelAsync(string model) =>
        fixture.Client.GetGrain<IModelRegistryGrain>(model).RegisterAsync(
            new ModelDefinition(model, [.. FraudTraffic.Classes], "fraud", ["region"], ClusterFixture.Time.GetUtcNow()));

    private static DriftVerdict Verdict(DriftReport report, string version, string segment) =>
        Assert.Single(report.Verdicts, v => v.Version == version && v.Segment == segment);
}
