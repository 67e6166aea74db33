using System.Collections.Immutable;
using System.Globalization;
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

    /// <summary>The last rollout transition this watcher has read from the controller.</summary>
    [Id(10)] public long LastTransitionSequence { get; set; }

    /// <summary>Rolling baselines as they were when the epoch started: disjoint from the epoch's evidence and fixed while it runs.</summary>
    [Id(11)] public Dictionary<string, SparseMatrix> FrozenBaselines { get; set; } = new(StringComparer.Ordinal);

    /// <summary>When the rolling baselines were last frozen; the epoch length is counted from here.</summary>
    [Id(12)] public DateTimeOffset? BaselinesFrozenAt { get; set; }
}

/// <summary>
/// Judges every (version, segment) of one model against its reference with always-valid confidence sequences, controls
/// the false discovery rate over all of them (e-BH), and tells the rollout controller about alarms. The reference is,
/// in order: the stable version over the same prediction-time cohorts (for a canary); the previous stable's last epoch
/// (for a freshly promoted version in its guard period); the holdout baseline; the rolling baseline frozen at the epoch
/// start. Evidence accumulates from the epoch start. Calls go one way: the watcher reads the controller's transitions
/// (a start-canary, resume, promote, rollback or set-stable starts a new epoch) and calls it with verdicts; the
/// controller never calls the watcher. When the epoch length passes and nothing changed, the evidence carries on;
/// only references that are rolling baselines are refrozen, and their tests restart.
/// </summary>
public sealed class DriftWatcherGrain(
    [PersistentState("drift", StorageNames.Control)] IPersistentState<DriftWatcherState> state,
    ConfusionMatrixInstruments instruments,
    ModelQualityGauges gauges,
    ApplicationClock clock,
    ControlStateSize stateSize,
    Microsoft.Extensions.Options.IOptions<DriftWatcherOptions> options,
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
            await EvaluateAsync(force: false);
        }
    }

    public async Task<DriftReport> EvaluateNowAsync()
    {
        await EvaluateAsync(force: true);
        return Report();
    }

    public async ValueTask<DriftReport> GetReportAsync()
    {
        // Read-only: transitions not read yet are taken by a message to this watcher, after this answer.
        RequestSyncIfBehind(await Controller.GetStateAsync());
        return Report();
    }

    public async Task SyncRolloutAsync() => await ReadRolloutAsync();

    public async Task<DriftReport> SetPolicyAsync(DriftPolicySettings policy)
    {
        var problems = WireMapping.ToCore(policy).Validate();
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

        if (policy.LabelDelay is { } delay && (delay < TimeSpan.Zero || delay > TimeSpan.FromDays(30)))
        {
            throw new ArgumentException("labelDelay must be between 0 and 30 days.");
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

    public async Task StartEpochAsync(string reason)
    {
        var rollout = await ReadRolloutAsync();
        await StartEpochAsync(reason, rollout, fromNow: true);
    }

    /// <summary>
    /// Reads the rollout transitions published since the last read; one that changes what is compared starts a new
    /// epoch. Returns the rollout as read.
    /// </summary>
    private async Task<RolloutView> ReadRolloutAsync()
    {
        var s = state.State;
        var rollout = await Controller.GetStateAsync();
        var latest = rollout.History.Length > 0 ? rollout.History[^1].Sequence : 0;
        if (latest <= s.LastTransitionSequence)
        {
            return rollout;
        }

        var resetting = UnreadEpochStart(rollout);
        s.LastTransitionSequence = latest;
        if (resetting is not null)
        {
            await StartEpochAsync($"{resetting.Action} by {resetting.Actor}", rollout, fromNow: true);
        }
        else
        {
            await state.WriteStateAsync();
        }

        return rollout;
    }

    /// <summary>The latest transition not read yet that starts a new epoch, if any.</summary>
    private RolloutTransition? UnreadEpochStart(RolloutView rollout) =>
        rollout.History.LastOrDefault(t => t.Sequence > state.State.LastTransitionSequence && t.Kind is { } kind && kind.StartsEpoch());

    /// <summary>From a read-only call: asks this watcher (as a message, after the current call) to read new transitions.</summary>
    private void RequestSyncIfBehind(RolloutView rollout)
    {
        if (rollout.History.Length > 0 && rollout.History[^1].Sequence > state.State.LastTransitionSequence)
        {
            _ = this.AsReference<IDriftWatcherGrain>().SyncRolloutAsync();
        }
    }

    private IRolloutControllerGrain Controller => GrainFactory.GetGrain<IRolloutControllerGrain>(Model);

    /// <param name="fromNow">False only for the very first epoch, whose evidence is everything counted so far.</param>
    private async Task StartEpochAsync(string reason, RolloutView rollout, bool fromNow)
    {
        var s = state.State;
        var catalog = await GrainFactory.GetGrain<IModelRegistryGrain>(Model).GetCatalogAsync();

        // A promotion's guard period compares the new stable with what the previous stable did in the epoch just ended.
        s.GuardReference.Clear();
        s.GuardReferenceVersion = null;
        if (rollout.Routing.Phase == RolloutPhase.Promoted && rollout.PreviousStable is { } previous
            && catalog.SegmentsByVersion.TryGetValue(previous, out var previousSegments))
        {
            var guard = await Task.WhenAll(previousSegments.Select(async segment => (Segment: segment, Live: (await SinceEpochAsync(previous, segment)).SinceEpoch)));
            foreach (var (segment, live) in guard)
            {
                s.GuardReference[segment] = WireMapping.ToSparse(live);
            }

            s.GuardReferenceVersion = previous;
        }

        // Every matrix and baseline of the segments in play, fetched once and in parallel.
        var inPlay = VersionsInPlay(rollout.Routing, catalog)
            .SelectMany(version => catalog.SegmentsByVersion.TryGetValue(version, out var segments) ? segments.Select(segment => (Version: version, Segment: segment)) : [])
            .ToList();
        var counts = Task.WhenAll(fromNow ? inPlay.Select(async k => (k.Version, k.Segment, (await Segment(k.Version, k.Segment).GetMatrixAsync(null)).Matrix)) : []);
        var baselines = Task.WhenAll(inPlay.Select(async k => (k.Version, k.Segment, View: await Segment(k.Version, k.Segment).GetBaselineAsync())));
        await Task.WhenAll(counts, baselines);

        s.EpochStartCounts.Clear();
        foreach (var (version, segment, matrix) in await counts)
        {
            s.EpochStartCounts[Key(version, segment)] = matrix;
        }

        // Sequential tests restart with the evidence and the references. A rolling baseline is frozen now: it ends
        // before the epoch's evidence starts and stays fixed while the epoch runs.
        s.Sequential.Clear();
        s.FrozenBaselines.Clear();
        foreach (var (version, segment, baseline) in await baselines)
        {
            Freeze(version, segment, baseline);
        }

        // The latest verdicts stay until a look replaces them: they explain a pause or a rollback that just happened
        // (the gate ignores verdicts older than the epoch). Those of versions out of play that were not judged in the
        // epoch just ended go, so the state holds the verdicts of at most two epochs' versions, not of every version ever.
        var inPlayNow = VersionsInPlay(rollout.Routing, catalog);
        foreach (var key in s.Latest.Where(kv => !inPlayNow.Contains(kv.Value.Version) && (s.EpochStartedAt is not { } previous || kv.Value.At < previous)).Select(kv => kv.Key).ToList())
        {
            s.Latest.Remove(key);
        }

        foreach (var key in s.LatestFairness.Where(kv => !inPlayNow.Contains(kv.Value.Version) && (s.EpochStartedAt is not { } previous || kv.Value.At < previous)).Select(kv => kv.Key).ToList())
        {
            s.LatestFairness.Remove(key);
        }

        s.EpochStartedAt = clock.GetUtcNow();
        s.BaselinesFrozenAt = s.EpochStartedAt;
        await state.WriteStateAsync();
        Log.EpochStarted(logger, Model, reason);
    }

    public async Task<GateAnswer> GateAsync(string version)
    {
        // Read-only: a transition not read yet already makes the verdicts before it stale.
        var rollout = await Controller.GetStateAsync();
        RequestSyncIfBehind(rollout);
        var s = state.State;
        var epochStart = UnreadEpochStart(rollout) is { } unread && (s.EpochStartedAt is null || unread.At > s.EpochStartedAt) ? unread.At : s.EpochStartedAt;
        var tolerance = s.Policy.Tolerance;
        var current = s.Latest.Values.Where(v => v.Version == version && epochStart is { } start && v.At >= start).ToList();
        var segments = current.Select(v =>
        {
            var judged = v.ClassDeltas.Where(d => d.Sufficient).ToList();
            var least = judged.MaxBy(d => d.UpperBound ?? double.PositiveInfinity);
            var leastText = least is null ? null : string.Create(
                CultureInfo.InvariantCulture,
                $"{least.Metric} of '{least.Class}' may have dropped by up to {least.UpperBound:0.000} (tolerance {tolerance:0.000}) over {least.LiveDenominator} labelled predictions");
            return new GateSegment(v.Segment, v.Outcome, judged.Count, judged.Count(d => d.UpperBound is { } upper && upper < tolerance), v.Reason, leastText);
        }).ToList();
        var fairness = s.LatestFairness.Values.FirstOrDefault(f => f.Version == version && f.Alert && epochStart is { } start && f.At >= start);
        var result = DriftGate.Evaluate(version, segments, fairness is null ? null : $"fairness alert on {fairness.Dimension}: {fairness.Reason}");
        return new GateAnswer(result.Pass, result.Inconclusive, result.Reason);
    }

    private void StartTimer()
    {
        _timer?.Dispose();
        var interval = state.State.Policy.EffectiveEvaluationInterval;
        _timer = this.RegisterGrainTimer(() => EvaluateAsync(force: false), interval, interval);
    }

    /// <param name="force">Judge even when no segment reported new evidence (operators, tests, the demo).</param>
    private async Task EvaluateAsync(bool force)
    {
        var rollout = await ReadRolloutAsync();
        if (!force && _dirty.Count == 0)
        {
            return;
        }

        using var activity = ConfusionMatrixInstruments.ActivitySource.StartActivity("confusionmatrix.drift.evaluate");
        activity?.SetTag("confusionmatrix.model", Model);
        activity?.SetTag("confusionmatrix.segments", _dirty.Count);

        var s = state.State;
        var now = clock.GetUtcNow();
        if (s.EpochStartedAt is null)
        {
            await StartEpochAsync("first evaluation", rollout, fromNow: false);
        }
        else if (now - (s.BaselinesFrozenAt ?? s.EpochStartedAt) > s.Policy.EffectiveEpochLength && s.FrozenBaselines.Count > 0)
        {
            // Only a rolling baseline changes with time; everything else carries its evidence on.
            await RefreezeRollingBaselinesAsync();
        }

        var registry = GrainFactory.GetGrain<IModelRegistryGrain>(Model);
        var catalog = await registry.GetCatalogAsync();
        var definition = catalog.Definition;
        _dirty.Clear();
        _pendingEvidence = 0;
        if (definition is null)
        {
            return;
        }

        // The family of the false discovery rate: every segment of every version in play.
        var inPlay = VersionsInPlay(rollout.Routing, catalog);
        var snapshot = await SnapshotAsync(rollout.Routing, catalog, inPlay, now);
        var family = new List<(string Version, string Segment, string ReferenceName)>();
        var comparisons = new List<DriftComparison>();
        var sequentials = new List<SequentialState>();
        foreach (var version in inPlay.Order(StringComparer.Ordinal))
        {
            if (!catalog.SegmentsByVersion.TryGetValue(version, out var segments))
            {
                continue;
            }

            foreach (var segment in segments)
            {
                var (live, reference, referenceName) = Inputs(version, segment, rollout.Routing, definition, snapshot);
                var sequential = Restore(Key(version, segment));
                family.Add((version, segment, referenceName));
                comparisons.Add(new DriftComparison(live, reference, sequential, definition.Classes));
                sequentials.Add(sequential);
            }
        }

        var policy = WireMapping.ToCore(s.Policy);
        var assessments = DriftEvaluator.EvaluateFamily(comparisons, policy);
        var alarms = new List<DriftVerdict>();
        for (var i = 0; i < family.Count; i++)
        {
            var (version, segment, referenceName) = family[i];
            var key = Key(version, segment);
            s.Sequential[key] = new SequentialSnapshot(sequentials[i].Looks, new Dictionary<string, double>(sequentials[i].Snapshot(), StringComparer.Ordinal));
            var verdict = WireMapping.ToVerdict(Model, version, segment, referenceName, assessments[i], definition.Classes, Precision(comparisons[i], definition), sequentials[i].Looks, now);
            s.Latest[key] = verdict;
            instruments.DriftVerdict(Model, verdict.Decision);
            gauges.Publish(verdict);
            if (verdict.IsAlarm)
            {
                Log.DriftAlarm(logger, Model, version, segment, verdict.Decision, verdict.Reason);
                alarms.Add(verdict);
            }
        }

        if (definition.PositiveClass is { } positive)
        {
            var dimensions = family.Select(f => (f.Version, Dimension: SegmentKey.TryParse(f.Segment, out var key) ? key.Dimension : null))
                .Where(d => d.Dimension is not null).Distinct().ToList();
            foreach (var (version, dimension) in dimensions)
            {
                EvaluateFairness(version, dimension!, definition.ClassIndex(positive), catalog, rollout.Routing, policy, snapshot, now);
            }
        }

        s.Evaluations++;
        s.LastEvaluatedAt = now;
        CheckStoredSize();
        await state.WriteStateAsync();

        // Severe first, so a rollback is not preceded by a mere pause of the same canary.
        var controller = GrainFactory.GetGrain<IRolloutControllerGrain>(Model);
        foreach (var alarm in alarms.OrderByDescending(a => a.Outcome == DriftDecision.Severe))
        {
            await controller.OnVerdictAsync(alarm);
        }
    }

    /// <summary>
    /// Before the write (a write refused as too large would skip it): warns and counts when the state as stored is
    /// over the warning size. Measured on the first evaluation and every tenth after, so it costs one serialisation in ten.
    /// </summary>
    private void CheckStoredSize()
    {
        if (options.Value.StateWarningBytes is not { } warning || (state.State.Evaluations - 1) % DriftWatcherOptions.CheckEveryEvaluations != 0)
        {
            return;
        }

        var bytes = stateSize.Measure(state.State);
        if (bytes > warning)
        {
            instruments.StateLarge(Model, "drift");
            Log.DriftStateLarge(logger, Model, bytes, warning, DriftWatcherOptions.AzureTableStateLimit);
        }
    }

    private async Task RefreezeRollingBaselinesAsync()
    {
        var s = state.State;
        foreach (var key in s.FrozenBaselines.Keys.ToList())
        {
            var slash = key.IndexOf('/');
            var (version, segment) = (key[..slash], key[(slash + 1)..]);
            s.FrozenBaselines.Remove(key);
            s.Sequential.Remove(key);
            var matrix = Segment(version, segment).GetMatrixAsync(null).AsTask();
            var baseline = Segment(version, segment).GetBaselineAsync().AsTask();
            await Task.WhenAll(matrix, baseline);
            s.EpochStartCounts[key] = (await matrix).Matrix;
            Freeze(version, segment, await baseline);
        }

        s.BaselinesFrozenAt = clock.GetUtcNow();
        await state.WriteStateAsync();
        Log.EpochStarted(logger, Model, "epoch length reached: rolling baselines refrozen");
    }

    private void Freeze(string version, string segment, BaselineView baseline)
    {
        if (baseline.Kind != BaselineKind.Holdout && baseline.Matrix is { } matrix)
        {
            state.State.FrozenBaselines[Key(version, segment)] = matrix;
        }
    }

    /// <summary>What a (version, segment) is compared with; see the class summary for the order.</summary>
    private enum ReferenceSource
    {
        StableSameCohorts,
        PreviousStable,
        Baseline,
    }

    private ReferenceSource ReferenceOf(string version, string segment, RoutingTable routing) =>
        version == routing.Canary && routing.Stable is not null ? ReferenceSource.StableSameCohorts
        : version == routing.Stable && routing.Phase == RolloutPhase.Promoted && state.State.GuardReferenceVersion is not null
            && state.State.GuardReference.ContainsKey(segment) ? ReferenceSource.PreviousStable
        : ReferenceSource.Baseline;

    /// <summary>Everything one evaluation reads from the segment grains: each matrix and baseline fetched once.</summary>
    private sealed class EvidenceSnapshot
    {
        public Dictionary<(string Version, string Segment), ConfusionCounts?> Live { get; } = [];

        public Dictionary<(string Version, string Segment), BaselineView> Baselines { get; } = [];

        public ConfusionCounts? LiveOf(string version, string segment) => Live.GetValueOrDefault((version, segment));
    }

    /// <summary>
    /// Fetches, in parallel, the live evidence of every segment in play (a canary's reference, the stable version's same
    /// segment, among them) and the baselines not frozen yet. The comparisons and fairness checks then read only this.
    /// </summary>
    private async Task<EvidenceSnapshot> SnapshotAsync(RoutingTable routing, ModelCatalog catalog, IEnumerable<string> inPlay, DateTimeOffset now)
    {
        var liveKeys = new HashSet<(string Version, string Segment)>();
        var baselineKeys = new HashSet<(string Version, string Segment)>();
        foreach (var version in inPlay)
        {
            if (!catalog.SegmentsByVersion.TryGetValue(version, out var segments))
            {
                continue;
            }

            foreach (var segment in segments)
            {
                liveKeys.Add((version, segment));
                var source = ReferenceOf(version, segment, routing);
                if (source == ReferenceSource.StableSameCohorts)
                {
                    liveKeys.Add((routing.Stable!, segment));
                }
                else if (source == ReferenceSource.Baseline && !state.State.FrozenBaselines.ContainsKey(Key(version, segment)))
                {
                    baselineKeys.Add((version, segment));
                }
            }
        }

        var live = liveKeys.Select(async k => (k, Counts: await LiveAsync(k.Version, k.Segment, now))).ToList();
        var baselines = baselineKeys.Select(async k => (k, View: await Segment(k.Version, k.Segment).GetBaselineAsync())).ToList();
        var snapshot = new EvidenceSnapshot();
        foreach (var (key, counts) in await Task.WhenAll(live))
        {
            snapshot.Live[key] = counts;
        }

        foreach (var (key, view) in await Task.WhenAll(baselines))
        {
            snapshot.Baselines[key] = view;
        }

        return snapshot;
    }

    private (ConfusionCounts Live, ConfusionCounts Reference, string ReferenceName) Inputs(
        string version, string segment, RoutingTable routing, ModelDefinition definition, EvidenceSnapshot snapshot)
    {
        var classes = definition.Classes.Length;
        var live = snapshot.LiveOf(version, segment) ?? new ConfusionCounts(classes);
        ConfusionCounts? reference = null;
        string referenceName;
        var delay = state.State.Policy.EffectiveLabelDelay;
        switch (ReferenceOf(version, segment, routing))
        {
            case ReferenceSource.StableSameCohorts:
                reference = snapshot.LiveOf(routing.Stable!, segment);
                referenceName = delay > TimeSpan.Zero
                    ? $"stable {routing.Stable} over the same prediction-time cohorts, labels at least {delay} old"
                    : $"stable {routing.Stable} over the same epoch";
                break;
            case ReferenceSource.PreviousStable:
                reference = WireMapping.ToCounts(state.State.GuardReference[segment], classes);
                referenceName = $"previous stable {state.State.GuardReferenceVersion} before promotion";
                break;
            default:
                var key = Key(version, segment);
                if (state.State.FrozenBaselines.TryGetValue(key, out var frozen))
                {
                    reference = WireMapping.ToCounts(frozen, classes);
                    referenceName = "rolling baseline frozen at the epoch start";
                }
                else
                {
                    var baseline = snapshot.Baselines[(version, segment)];
                    referenceName = baseline.Kind == BaselineKind.Holdout ? "holdout baseline" : "rolling baseline frozen at the epoch start";
                    if (baseline.Matrix is { } matrix)
                    {
                        reference = WireMapping.ToCounts(matrix, classes);
                        if (baseline.Kind != BaselineKind.Holdout)
                        {
                            state.State.FrozenBaselines[key] = matrix;
                        }
                    }
                }

                break;
        }

        return (live, reference ?? new ConfusionCounts(classes), referenceName);
    }

    /// <summary>
    /// The live evidence of a (version, segment): counts since the epoch start or, with a label delay, the labelled
    /// counts of the predictions made between the epoch start and now - delay (cohorts whose labels have matured),
    /// which both arms of a comparison read over the same range.
    /// </summary>
    private async Task<ConfusionCounts?> LiveAsync(string version, string segment, DateTimeOffset now)
    {
        var delay = state.State.Policy.EffectiveLabelDelay;
        if (delay <= TimeSpan.Zero)
        {
            return (await SinceEpochAsync(version, segment)).SinceEpoch;
        }

        var to = now - delay;
        if (state.State.EpochStartedAt is not { } from || to <= from)
        {
            return null;
        }

        var view = await Segment(version, segment).GetEventTimeRangeAsync(from, to);
        return view.Matrix.ClassCount == 0 ? null : WireMapping.ToCounts(view.Matrix, view.Matrix.ClassCount);
    }

    /// <summary>
    /// Precision per class, reported for dashboards and gauges but never tested (Sufficient is false, so it cannot
    /// alarm or gate): against a holdout it moves with prevalence, not with the model.
    /// </summary>
    private static IEnumerable<ClassDeltaView> Precision(DriftComparison comparison, ModelDefinition definition)
    {
        for (var c = 0; c < definition.Classes.Length && c < comparison.Live.ClassCount; c++)
        {
            long liveColumn = comparison.Live.ColumnTotal(c), referenceColumn = comparison.Reference.ColumnTotal(c);
            var live = liveColumn > 0 ? (double)comparison.Live[c, c] / liveColumn : 0;
            var reference = referenceColumn > 0 ? (double)comparison.Reference[c, c] / referenceColumn : 0;
            yield return new ClassDeltaView(
                definition.Classes[c], "precision", reference, live, liveColumn > 0 && referenceColumn > 0 ? reference - live : 0, 1, 0,
                referenceColumn, liveColumn, false, false, false);
        }
    }

    private void EvaluateFairness(string version, string dimension, int positiveClass, ModelCatalog catalog, RoutingTable routing, DriftPolicy policy, EvidenceSnapshot snapshot, DateTimeOffset now)
    {
        if (positiveClass < 0 || !catalog.SegmentsByVersion.TryGetValue(version, out var segments))
        {
            return;
        }

        var members = new List<(string Segment, ConfusionCounts Counts)>();
        var stableMembers = new List<(string Segment, ConfusionCounts Counts)>();
        var isCanary = version == routing.Canary && routing.Stable is not null;
        foreach (var segment in segments.Where(x => SegmentKey.TryParse(x, out var k) && k.Dimension == dimension))
        {
            if (snapshot.LiveOf(version, segment) is { } live)
            {
                members.Add((segment, live));
            }

            if (isCanary && snapshot.LiveOf(routing.Stable!, segment) is { } stableLive)
            {
                stableMembers.Add((segment, stableLive));
            }
        }

        if (members.Count < 2)
        {
            return;
        }

        var key = $"{version}/fairness:{dimension}";
        var sequential = Restore(key);

        // A canary is judged by whether it widens the gaps the stable version has, not by the gaps themselves.
        var assessment = FairnessEvaluator.Evaluate(dimension, members, positiveClass, policy, sequential, isCanary ? stableMembers : null);
        state.State.Sequential[key] = new SequentialSnapshot(sequential.Looks, new Dictionary<string, double>(sequential.Snapshot(), StringComparer.Ordinal));
        var verdict = WireMapping.ToVerdict(Model, version, assessment, now);
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

        var live = WireMapping.ToCounts(view.Matrix, view.Matrix.ClassCount);
        if (state.State.EpochStartCounts.TryGetValue(Key(version, segment), out var start) && start.ClassCount == view.Matrix.ClassCount)
        {
            live.Subtract(WireMapping.ToCounts(start, start.ClassCount));
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
}
