using System.Collections.Immutable;
using ConfusionMatrix.Abstractions;
using ConfusionMatrix.Core;
using ConfusionMatrix.Core.Drift;
using Microsoft.Extensions.Logging;

namespace ConfusionMatrix.Grains;

[GenerateSerializer, Alias("cm.SequentialSnapshot")]
public sealed record SequentialSnapshot([property: Id(0)] long Looks, [property: Id(1)] Dictionary<string, double> MinPValues);

[GenerateSerializer, Alias("cm.DriftWatcherState")]
public sealed class DriftWatcherState
{
    [Id(0)] public DriftPolicySettings Policy { get; set; } = new();

    [Id(1)] public DateTimeOffset? EpochStartedAt { get; set; }

    /// <summary>All-time counts of each "version/segment" when the epoch started; live evidence is what came after.</summary>
    [Id(2)] public Dictionary<string, SparseMatrix> EpochStartCounts { get; set; } = new(StringComparer.Ordinal);

    [Id(3)] public Dictionary<string, SequentialSnapshot> Sequential { get; set; } = new(StringComparer.Ordinal);

    [Id(4)] public Dictionary<string, DriftVerdict> Latest { get; set; } = new(StringComparer.Ordinal);

    [Id(5)] public Dictionary<string, FairnessVerdict> LatestFairness { get; set; } = new(StringComparer.Ordinal);

    /// <summary>After a promotion: what the previous stable counted per segment during the epoch that led to it.</summary>
    [Id(6)] public Dictionary<string, SparseMatrix> GuardReference { get; set; } = new(StringComparer.Ordinal);

    [Id(7)] public string? GuardReferenceVersion { get; set; }

    [Id(8)] public long Evaluations { get; set; }

    [Id(9)] public DateTimeOffset? LastEvaluatedAt { get; set; }
}

/// <summary>
/// Judges every (version, segment) of one model against its reference with sequentially valid tests, and tells the
/// rollout controller about alarms. The reference is, in order: the stable version over the same epoch (for a canary);
/// the previous stable's last epoch (for a freshly promoted version in its guard period); the holdout baseline; the
/// rolling baseline. Evidence accumulates from the epoch start, which a rollout transition or the epoch length resets.
/// </summary>
public sealed class DriftWatcherGrain(
    [PersistentState("drift", StorageNames.Control)] IPersistentState<DriftWatcherState> state,
    ConfusionMatrixInstruments instruments,
    ModelQualityGauges gauges,
    ApplicationClock clock,
    ILogger<DriftWatcherGrain> logger) : Grain, IDriftWatcherGrain
{
    private readonly HashSet<(string Version, string Segment)> _dirty = [];
    private long _pendingEvidence;
    private IGrainTimer? _timer;

    private string Model => this.GetPrimaryKeyString();

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        StartTimer();
        return Task.CompletedTask;
    }

    public async Task NotifyEvidenceAsync(string version, string segment, long newPredictions)
    {
        _dirty.Add((version, segment));
        _pendingEvidence += newPredictions;
        if (_pendingEvidence >= state.State.Policy.EvidenceThreshold * 10)
        {
            // A flood of evidence: do not wait for the timer.
            await EvaluateDirtyAsync();
        }
    }

    public async Task<DriftReport> EvaluateNowAsync()
    {
        var catalog = await GrainFactory.GetGrain<IModelRegistryGrain>(Model).GetCatalogAsync();
        foreach (var (version, segments) in catalog.SegmentsByVersion)
        {
            foreach (var segment in segments)
            {
                _dirty.Add((version, segment));
            }
        }

        await EvaluateDirtyAsync();
        return Report();
    }

    public ValueTask<DriftReport> GetReportAsync() => ValueTask.FromResult(Report());

    public async Task<DriftReport> SetPolicyAsync(DriftPolicySettings policy)
    {
        var problems = ToCore(policy).Validate();
        if (problems.Count > 0)
        {
            throw new ArgumentException(string.Join(" ", problems));
        }

        if (policy.EvaluationInterval is { } interval && (interval < TimeSpan.FromMilliseconds(100) || interval > TimeSpan.FromHours(1)))
        {
            throw new ArgumentException("evaluationInterval must be between 100 ms and 1 hour.");
        }

        if (policy.EpochLength is { } epoch && (epoch < TimeSpan.FromMinutes(1) || epoch > TimeSpan.FromDays(30)))
        {
            throw new ArgumentException("epochLength must be between 1 minute and 30 days.");
        }

        if (policy.EvidenceThreshold < 1)
        {
            throw new ArgumentException("evidenceThreshold must be at least 1.");
        }

        state.State.Policy = policy;
        await state.WriteStateAsync();
        StartTimer();
        return Report();
    }

    public Task StartEpochAsync(string reason) => StartEpochAsync(reason, fromNow: true);

    /// <param name="fromNow">False only for the very first epoch, whose evidence is everything counted so far.</param>
    private async Task StartEpochAsync(string reason, bool fromNow)
    {
        var s = state.State;
        var rollout = await GrainFactory.GetGrain<IRolloutControllerGrain>(Model).GetStateAsync();
        var catalog = await GrainFactory.GetGrain<IModelRegistryGrain>(Model).GetCatalogAsync();

        // A promotion's guard period compares the new stable with what the previous stable did in the epoch just ended.
        s.GuardReference.Clear();
        s.GuardReferenceVersion = null;
        if (rollout.Routing.Phase == RolloutPhase.Promoted && rollout.PreviousStable is { } previous
            && catalog.SegmentsByVersion.TryGetValue(previous, out var previousSegments))
        {
            foreach (var segment in previousSegments)
            {
                var (live, _) = await SinceEpochAsync(previous, segment);
                s.GuardReference[segment] = SegmentMatrixGrain.ToSparse(live);
            }

            s.GuardReferenceVersion = previous;
        }

        s.EpochStartCounts.Clear();
        foreach (var version in fromNow ? VersionsInPlay(rollout.Routing, catalog) : [])
        {
            if (!catalog.SegmentsByVersion.TryGetValue(version, out var segments))
            {
                continue;
            }

            foreach (var segment in segments)
            {
                var view = await Segment(version, segment).GetMatrixAsync(null);
                s.EpochStartCounts[Key(version, segment)] = view.Matrix;
            }
        }

        // Sequential tests restart with the evidence. The latest verdicts stay until a look replaces them: they are
        // what explains a pause or a rollback that just happened.
        s.Sequential.Clear();
        s.EpochStartedAt = clock.GetUtcNow();
        await state.WriteStateAsync();
        Log.EpochStarted(logger, Model, reason);
    }

    public ValueTask<(bool Pass, string Reason)> GateAsync(string version)
    {
        var alarms = state.State.Latest.Values.Where(v => v.Version == version && v.IsAlarm).OrderByDescending(v => v.Decision == DriftVerdict.Severe).ToList();
        if (alarms.Count > 0)
        {
            return ValueTask.FromResult((false, $"{alarms.Count} segment(s) of {version} in drift; worst: {alarms[0].Segment}: {alarms[0].Reason}"));
        }

        var fairness = state.State.LatestFairness.Values.FirstOrDefault(f => f.Version == version && f.Alert);
        if (fairness is not null)
        {
            return ValueTask.FromResult((false, $"fairness alert on {fairness.Dimension}: {fairness.Reason}"));
        }

        var judged = state.State.Latest.Values.Count(v => v.Version == version && v.Decision == DriftVerdict.NoDrift);
        return ValueTask.FromResult((true, judged == 0 ? $"no evidence against {version} yet" : $"{judged} segment(s) of {version} judged, none in drift"));
    }

    private void StartTimer()
    {
        _timer?.Dispose();
        var interval = state.State.Policy.EffectiveEvaluationInterval;
        _timer = this.RegisterGrainTimer(EvaluateDirtyAsync, interval, interval);
    }

    private async Task EvaluateDirtyAsync()
    {
        if (_dirty.Count == 0)
        {
            return;
        }

        using var activity = ConfusionMatrixInstruments.ActivitySource.StartActivity("confusionmatrix.drift.evaluate");
        activity?.SetTag("confusionmatrix.model", Model);
        activity?.SetTag("confusionmatrix.segments", _dirty.Count);

        var s = state.State;
        var now = clock.GetUtcNow();
        if (s.EpochStartedAt is null || now - s.EpochStartedAt > s.Policy.EffectiveEpochLength)
        {
            // The first look, or an epoch long enough that old evidence no longer says much about now.
            await StartEpochAsync(s.EpochStartedAt is null ? "first evaluation" : "epoch length reached", fromNow: s.EpochStartedAt is not null);
        }

        var controller = GrainFactory.GetGrain<IRolloutControllerGrain>(Model);
        var rollout = await controller.GetStateAsync();
        var registry = GrainFactory.GetGrain<IModelRegistryGrain>(Model);
        var catalog = await registry.GetCatalogAsync();
        var definition = catalog.Definition;
        if (definition is null)
        {
            _dirty.Clear();
            return;
        }

        var inPlay = VersionsInPlay(rollout.Routing, catalog);
        var work = _dirty.Where(d => inPlay.Contains(d.Version)).ToList();
        _dirty.Clear();
        _pendingEvidence = 0;
        var policy = ToCore(s.Policy);
        var alarms = new List<DriftVerdict>();
        var dimensionsTouched = new HashSet<(string Version, string Dimension)>();
        foreach (var (version, segment) in work)
        {
            var verdict = await EvaluateSegmentAsync(version, segment, rollout, definition, policy, now);
            s.Latest[Key(version, segment)] = verdict;
            instruments.DriftVerdict(Model, verdict.Decision);
            gauges.Publish(verdict);
            if (verdict.IsAlarm)
            {
                Log.DriftAlarm(logger, Model, version, segment, verdict.Decision, verdict.Reason);
                alarms.Add(verdict);
            }

            var eq = segment.IndexOf('=');
            if (eq > 0)
            {
                dimensionsTouched.Add((version, segment[..eq]));
            }
        }

        if (definition.PositiveClass is { } positive)
        {
            foreach (var (version, dimension) in dimensionsTouched)
            {
                await EvaluateFairnessAsync(version, dimension, definition.ClassIndex(positive), catalog, policy, now);
            }
        }

        s.Evaluations++;
        s.LastEvaluatedAt = now;
        await state.WriteStateAsync();

        // Severe first, so a rollback is not preceded by a mere pause of the same canary.
        foreach (var alarm in alarms.OrderByDescending(a => a.Decision == DriftVerdict.Severe))
        {
            await controller.OnVerdictAsync(alarm);
        }
    }

    private async Task<DriftVerdict> EvaluateSegmentAsync(string version, string segment, RolloutView rollout, ModelDefinition definition, DriftPolicy policy, DateTimeOffset now)
    {
        var (live, _) = await SinceEpochAsync(version, segment);
        ConfusionCounts? reference = null;
        string referenceName;
        var routing = rollout.Routing;
        if (version == routing.Canary && routing.Stable is { } stable)
        {
            (reference, _) = await SinceEpochAsync(stable, segment);
            referenceName = $"stable {stable} over the same epoch";
        }
        else if (version == routing.Stable && routing.Phase == RolloutPhase.Promoted
            && state.State.GuardReferenceVersion is { } previous
            && state.State.GuardReference.TryGetValue(segment, out var guard))
        {
            reference = FromSparse(guard, definition.Classes.Length);
            referenceName = $"previous stable {previous} before promotion";
        }
        else
        {
            var baseline = await Segment(version, segment).GetBaselineAsync();
            referenceName = baseline.Kind == BaselineKind.Holdout ? "holdout baseline" : "rolling baseline";
            if (baseline.Matrix is { } matrix)
            {
                reference = FromSparse(matrix, definition.Classes.Length);
            }
        }

        var sequentialKey = Key(version, segment);
        var sequential = Restore(sequentialKey);
        reference ??= new ConfusionCounts(definition.Classes.Length);
        live ??= new ConfusionCounts(definition.Classes.Length);
        var assessment = DriftEvaluator.Evaluate(live, reference, policy, sequential, definition.Classes);
        state.State.Sequential[sequentialKey] = new SequentialSnapshot(sequential.Looks, new Dictionary<string, double>(sequential.Snapshot(), StringComparer.Ordinal));
        return new DriftVerdict(
            Model, version, segment, Decision(assessment.Decision), assessment.Reason, referenceName,
            assessment.Divergence.Kl, assessment.Divergence.Js, assessment.Divergence.G, assessment.Divergence.DegreesOfFreedom,
            assessment.Divergence.PValue, assessment.OmnibusAdjustedPValue, assessment.LiveTotal, assessment.ReferenceTotal,
            [.. assessment.ClassDeltas.Select(d => new ClassDeltaView(
                definition.Classes[d.ClassIndex], d.Metric, d.Reference, d.Live, d.Drop, d.AlwaysValidPValue, d.Threshold,
                d.ReferenceDenominator, d.LiveDenominator, d.Sufficient, d.Significant, d.Material))],
            now,
            sequential.Looks);
    }

    private async Task EvaluateFairnessAsync(string version, string dimension, int positiveClass, ModelCatalog catalog, DriftPolicy policy, DateTimeOffset now)
    {
        if (positiveClass < 0 || !catalog.SegmentsByVersion.TryGetValue(version, out var segments))
        {
            return;
        }

        var members = new List<(string Segment, ConfusionCounts Counts)>();
        foreach (var segment in segments.Where(x => x.StartsWith(dimension + "=", StringComparison.Ordinal)))
        {
            var (live, _) = await SinceEpochAsync(version, segment);
            if (live is not null)
            {
                members.Add((segment, live));
            }
        }

        if (members.Count < 2)
        {
            return;
        }

        var key = $"{version}/fairness:{dimension}";
        var sequential = Restore(key);
        var assessment = FairnessEvaluator.Evaluate(dimension, members, positiveClass, policy, sequential);
        state.State.Sequential[key] = new SequentialSnapshot(sequential.Looks, new Dictionary<string, double>(sequential.Snapshot(), StringComparer.Ordinal));
        var verdict = new FairnessVerdict(
            Model, version, dimension, assessment.Alert, assessment.Reason,
            [.. assessment.Gaps.Select(g => new RateGapView(g.Segment, g.Metric, g.SegmentRate, g.RestRate, g.Gap, g.AlwaysValidPValue, g.Threshold, g.Sufficient, g.Significant, g.Material))],
            now);
        state.State.LatestFairness[Key(version, dimension)] = verdict;
        if (verdict.Alert)
        {
            instruments.FairnessAlert(Model, dimension);
            Log.FairnessAlert(logger, Model, version, dimension, verdict.Reason);
        }
    }

    /// <summary>A segment's counts since the epoch started (null if it has none yet), and its all-time counts.</summary>
    private async Task<(ConfusionCounts? SinceEpoch, SparseMatrix AllTime)> SinceEpochAsync(string version, string segment)
    {
        var view = await Segment(version, segment).GetMatrixAsync(null);
        if (view.Matrix.ClassCount == 0)
        {
            return (null, view.Matrix);
        }

        var live = FromSparse(view.Matrix, view.Matrix.ClassCount);
        if (state.State.EpochStartCounts.TryGetValue(Key(version, segment), out var start) && start.ClassCount == view.Matrix.ClassCount)
        {
            live.Subtract(FromSparse(start, start.ClassCount));
        }

        return (live, view.Matrix);
    }

    private SequentialState Restore(string key) =>
        state.State.Sequential.TryGetValue(key, out var snap)
            ? SequentialState.Restore(snap.Looks, snap.MinPValues)
            : SequentialState.Restore(0, new Dictionary<string, double>());

    private static HashSet<string> VersionsInPlay(RoutingTable routing, ModelCatalog catalog)
    {
        var versions = new HashSet<string>(StringComparer.Ordinal);
        if (routing.Stable is null)
        {
            // No rollout is managed here: watch every version that reports predictions against its baseline.
            versions.UnionWith(catalog.SegmentsByVersion.Keys);
            return versions;
        }

        versions.Add(routing.Stable);
        if (routing.Canary is { } canary)
        {
            versions.Add(canary);
        }

        return versions;
    }

    private ISegmentMatrixGrain Segment(string version, string segment) =>
        GrainFactory.GetGrain<ISegmentMatrixGrain>(Segments.MatrixKey(Model, version, segment));

    private DriftReport Report()
    {
        var s = state.State;
        return new DriftReport(
            Model,
            s.Policy,
            [.. s.Latest.Values.OrderBy(v => v.Version, StringComparer.Ordinal).ThenBy(v => v.Segment, StringComparer.Ordinal)],
            [.. s.LatestFairness.Values.OrderBy(v => v.Version, StringComparer.Ordinal).ThenBy(v => v.Dimension, StringComparer.Ordinal)],
            s.LastEvaluatedAt,
            s.Evaluations,
            s.EpochStartedAt);
    }

    private static string Key(string version, string segment) => $"{version}/{segment}";

    private static ConfusionCounts FromSparse(SparseMatrix m, int classCount) =>
        m.ClassCount == 0 ? new ConfusionCounts(classCount) : ConfusionCounts.FromCells(m.ClassCount, m.Cells, m.Counts);

    private static string Decision(DriftDecision d) => d switch
    {
        DriftDecision.InsufficientEvidence => DriftVerdict.InsufficientEvidence,
        DriftDecision.NoDrift => DriftVerdict.NoDrift,
        DriftDecision.Drift => DriftVerdict.Drift,
        _ => DriftVerdict.Severe,
    };

    internal static DriftPolicy ToCore(DriftPolicySettings p) => new()
    {
        Alpha = p.Alpha,
        MinRecallDrop = p.MinRecallDrop,
        MinPrecisionDrop = p.MinPrecisionDrop,
        SevereDrop = p.SevereDrop,
        KlThreshold = p.KlThreshold,
        MaxFairnessGap = p.MaxFairnessGap,
        MinExpectedCellCount = p.MinExpectedCellCount,
        MinSamples = p.MinSamples,
        SmoothingAlpha = p.SmoothingAlpha,
    };
}
