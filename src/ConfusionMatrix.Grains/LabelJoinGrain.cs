using System.Collections.Immutable;
using ConfusionMatrix.Abstractions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ConfusionMatrix.Grains;

/// <summary>Persisted form of a label-join shard.</summary>
[GenerateSerializer, Alias("cm.LabelJoinState")]
public sealed class LabelJoinState
{
    /// <summary>Predictions by id: waiting for their label, or labelled and still correctable until their time to live.</summary>
    [Id(0)] public Dictionary<string, JoinEntry> Entries { get; set; } = new(StringComparer.Ordinal);

    /// <summary>Labels whose prediction has not arrived yet, kept for the model's grace period.</summary>
    [Id(1)] public Dictionary<string, EarlyLabel> EarlyLabels { get; set; } = new(StringComparer.Ordinal);

    /// <summary>Sequence of the last delivery to a segment; segments skip a sequence they have applied.</summary>
    [Id(2)] public long LastSequence { get; set; }

    /// <summary>Deliveries written with the join state that a segment has not confirmed yet; sent again until it has.</summary>
    [Id(3)] public List<SegmentDelivery> Outbox { get; set; } = [];

    [Id(4)] public LabelJoinCounters Counters { get; set; } = new();
}

/// <summary>
/// One prediction in the join. Every field's "unset" is its type's default, because the serializer leaves default
/// values out and a property initializer would bring back something else on reading.
/// </summary>
[GenerateSerializer, Alias("cm.JoinEntry")]
public sealed class JoinEntry
{
    [Id(0)] public string Version { get; set; } = "";

    [Id(1)] public string[] Segments { get; set; } = [];

    [Id(2)] public long EventTicks { get; set; }

    [Id(3)] public ushort Predicted { get; set; }

    /// <summary>False while the label is awaited.</summary>
    [Id(4)] public bool Labelled { get; set; }

    /// <summary>The applied class index; meaningful only when <see cref="Labelled"/>.</summary>
    [Id(5)] public ushort Actual { get; set; }

    [Id(6)] public long LabelTicks { get; set; }

    [Id(7)] public float? Score { get; set; }
}

[GenerateSerializer, Immutable, Alias("cm.EarlyLabel")]
public sealed record EarlyLabel(
    [property: Id(0)] int Actual,
    [property: Id(1)] long LabelTicks,
    [property: Id(2)] long ArrivedTicks,
    [property: Id(3)] string? Source);

[GenerateSerializer, Immutable, Alias("cm.SegmentDelivery")]
public sealed record SegmentDelivery(
    [property: Id(0)] string SegmentKey,
    [property: Id(1)] SegmentLabelDeltas Deltas);

[GenerateSerializer, Alias("cm.LabelJoinCounters")]
public sealed class LabelJoinCounters
{
    [Id(0)] public long Applied { get; set; }

    [Id(1)] public long Duplicates { get; set; }

    [Id(2)] public long Corrections { get; set; }

    [Id(3)] public long Stale { get; set; }

    [Id(4)] public long Orphaned { get; set; }

    [Id(5)] public long Expired { get; set; }

    [Id(6)] public long Evicted { get; set; }
}

/// <summary>
/// One shard of a model's label join. Every change it makes (a label applied, a correction, a prediction that starts
/// or stops waiting) is written with the join state as a numbered delivery to each affected segment, before anything
/// is acknowledged; the deliveries are then sent, and sent again after a failure or a restart, and each segment applies
/// a sequence once. So a label counts exactly once, in the version, segments and event-time window of its prediction.
/// </summary>
public sealed class LabelJoinGrain(
    [PersistentState("join", StorageNames.Labels)] IPersistentState<LabelJoinState> state,
    ConfusionMatrixInstruments instruments,
    StorageHealth storageHealth,
    IOptions<SegmentMatrixOptions> writeOptions,
    IOptions<LabelJoinOptions> joinOptions,
    ApplicationClock clock,
    ILogger<LabelJoinGrain> logger) : Grain, ILabelJoinGrain
{
    private readonly Dictionary<string, string> _versions = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string[]> _segmentSets = new(StringComparer.Ordinal);
    private string _model = "";
    private string _producerId = "";
    private ModelDefinition? _definition;
    private DateTimeOffset _definitionReadAt = DateTimeOffset.MinValue;
    private bool _unwritten;
    private bool _mustReload;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        (_model, _) = LabelLog.ParseJoinKey(this.GetPrimaryKeyString());
        _producerId = LabelLog.JoinProducerPrefix + this.GetPrimaryKeyString();
        InternLoadedEntries();
        var interval = joinOptions.Value.SweepInterval;
        this.RegisterGrainTimer(SweepAsync, new GrainTimerCreationOptions(interval, interval) { KeepAlive = true });
        return Task.CompletedTask;
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        if (_unwritten)
        {
            await PersistAsync();
        }
    }

    public async Task<LabelJoinResult> AddPendingAsync(PendingPredictionBatch batch)
    {
        await PrepareAsync();
        var definition = await DefinitionAsync();
        var k = batch.ClassCount;
        var now = clock.GetUtcNow().UtcTicks;
        var ttl = (definition?.EffectiveLabelTtl ?? ModelDefinition.DefaultLabelTtl).Ticks;
        var version = Intern(batch.Version);
        var deltas = new DeltaCollector(_model, k);
        int applied = 0, duplicates = 0, expired = 0;
        var entries = state.State.Entries;
        for (var i = 0; i < batch.Count; i++)
        {
            var id = batch.PredictionIds[i];
            if (entries.ContainsKey(id))
            {
                // The same prediction again (a redelivery or a resend): it already waits or is labelled.
                duplicates++;
                continue;
            }

            var ticks = batch.EventTimeUtcTicks[i];
            var predicted = batch.Predicted[i];
            var segments = Intern(batch.SegmentSets[batch.SegmentSet[i]]);
            if (now - ticks > ttl)
            {
                // Older than its time to live already: it will never be joined.
                deltas.Add(version, segments, LabelDeltaKind.Expired, predicted, 1, ticks);
                state.State.Counters.Expired++;
                expired++;
                continue;
            }

            var entry = new JoinEntry
            {
                Version = version,
                Segments = segments,
                EventTicks = ticks,
                Predicted = predicted,
                Score = batch.Scores is { } scores && !float.IsNaN(scores[i]) ? scores[i] : null,
            };
            entries[id] = entry;
            if (state.State.EarlyLabels.Remove(id, out var early) && early.Actual < k)
            {
                entry.Labelled = true;
                entry.Actual = (ushort)early.Actual;
                entry.LabelTicks = early.LabelTicks;
                deltas.Add(version, segments, LabelDeltaKind.Labelled, (early.Actual * k) + predicted, 1, ticks, Math.Max(0, early.LabelTicks - ticks));
                state.State.Counters.Applied++;
                instruments.LabelLatency(_model, version, TimeSpan.FromTicks(Math.Max(0, early.LabelTicks - ticks)));
                applied++;
            }
            else
            {
                deltas.Add(version, segments, LabelDeltaKind.Pending, predicted, 1, ticks);
            }
        }

        EvictBeyondCapacity(deltas, k);
        await CommitAsync(deltas);
        RequireDelivered();
        instruments.PendingPredictions(_model, batch.Count - duplicates - expired - applied);
        return new LabelJoinResult(applied, duplicates, 0, 0, 0, expired);
    }

    public async Task<LabelOutcome[]> ApplyLabelsAsync(LabelBatch batch, int[] classIndex)
    {
        await PrepareAsync();
        var outcomes = new LabelOutcome[batch.Count];
        var entries = state.State.Entries;
        var early = state.State.EarlyLabels;
        var counters = state.State.Counters;
        var now = clock.GetUtcNow().UtcTicks;
        var k = (await DefinitionAsync())?.Classes.Length ?? 0;
        var deltas = new DeltaCollector(_model, k);
        for (var i = 0; i < batch.Count; i++)
        {
            var id = batch.PredictionIds[i];
            var actual = batch.Actual[i] < classIndex.Length ? classIndex[batch.Actual[i]] : -1;
            var labelTicks = batch.LabelTimeUtcTicks[i];
            var source = batch.Sources?[i];
            if (actual < 0 || k == 0)
            {
                outcomes[i] = LabelOutcome.UnknownClass;
                continue;
            }

            if (entries.TryGetValue(id, out var entry))
            {
                if (!entry.Labelled)
                {
                    entry.Labelled = true;
                    entry.Actual = (ushort)actual;
                    entry.LabelTicks = labelTicks;
                    var latency = Math.Max(0, labelTicks - entry.EventTicks);
                    deltas.Add(entry.Version, entry.Segments, LabelDeltaKind.Labelled, (actual * k) + entry.Predicted, 1, entry.EventTicks, latency);
                    deltas.Add(entry.Version, entry.Segments, LabelDeltaKind.Pending, entry.Predicted, -1, entry.EventTicks);
                    instruments.LabelLatency(_model, entry.Version, TimeSpan.FromTicks(latency));
                    counters.Applied++;
                    outcomes[i] = LabelOutcome.Applied;
                }
                else if (entry.Actual == actual)
                {
                    counters.Duplicates++;
                    outcomes[i] = LabelOutcome.Duplicate;
                }
                else if (labelTicks > entry.LabelTicks)
                {
                    var previous = entry.Actual;
                    deltas.Add(entry.Version, entry.Segments, LabelDeltaKind.Labelled, (previous * k) + entry.Predicted, -1, entry.EventTicks);
                    deltas.Add(entry.Version, entry.Segments, LabelDeltaKind.Labelled, (actual * k) + entry.Predicted, 1, entry.EventTicks);
                    entry.Actual = (ushort)actual;
                    entry.LabelTicks = labelTicks;
                    counters.Corrections++;
                    outcomes[i] = LabelOutcome.Corrected;
                    Log.LabelCorrected(logger, _model, id, entry.Version, ClassName(previous), ClassName(actual), source ?? "-");
                }
                else
                {
                    counters.Stale++;
                    outcomes[i] = LabelOutcome.Stale;
                    Log.LabelStale(logger, _model, id, ClassName(actual), ClassName(entry.Actual));
                }

                continue;
            }

            if (early.TryGetValue(id, out var held))
            {
                if (held.Actual == actual)
                {
                    counters.Duplicates++;
                    outcomes[i] = LabelOutcome.Duplicate;
                }
                else if (labelTicks > held.LabelTicks)
                {
                    early[id] = held with { Actual = actual, LabelTicks = labelTicks, Source = source };
                    outcomes[i] = LabelOutcome.Buffered;
                }
                else
                {
                    counters.Stale++;
                    outcomes[i] = LabelOutcome.Stale;
                }

                continue;
            }

            early[id] = new EarlyLabel(actual, labelTicks, now, source);
            outcomes[i] = LabelOutcome.Buffered;
        }

        await CommitAsync(deltas, force: outcomes.Any(o => o is LabelOutcome.Buffered or LabelOutcome.Stale or LabelOutcome.Duplicate));
        RequireDelivered();
        foreach (var outcome in outcomes)
        {
            instruments.Label(_model, outcome);
        }

        return outcomes;
    }

    public async ValueTask<LabelJoinStats> GetStatsAsync()
    {
        // Reading the stats activates every shard: a chance to send what a crash left undelivered.
        await PrepareAsync();
        long pending = 0;
        foreach (var entry in state.State.Entries.Values)
        {
            pending += entry.Labelled ? 0 : 1;
        }

        var c = state.State.Counters;
        return new LabelJoinStats(
            pending,
            state.State.Entries.Count - pending,
            state.State.EarlyLabels.Count,
            c.Applied,
            c.Duplicates,
            c.Corrections,
            c.Stale,
            c.Orphaned,
            c.Expired,
            c.Evicted,
            state.State.Outbox.Count);
    }

    public ValueTask<ScoreSummary> GetScoreSummaryAsync(ScoreSummaryQuery query)
    {
        var k = query.ClassCount;
        var bins = query.Bins;
        if (k < 1 || bins < 1 || k * bins > 1 << 16)
        {
            throw new ArgumentOutOfRangeException(nameof(query), $"{k} classes x {bins} bins is not a summary this shard builds.");
        }

        var summary = ScoreSummary.Empty(k, bins);
        foreach (var entry in state.State.Entries.Values)
        {
            if (!string.Equals(entry.Version, query.Version, StringComparison.Ordinal) || Array.IndexOf(entry.Segments, query.Segment) < 0)
            {
                continue;
            }

            var inWindow = entry.EventTicks >= query.FromTicks && entry.EventTicks < query.ToTicks && entry.Predicted < k;

            // Only a probability can be calibrated: a score outside [0, 1] counts as no score.
            if (entry.Score is not ({ } score and >= 0 and <= 1))
            {
                if (inWindow && !entry.Labelled)
                {
                    summary.WaitingUnscoredByPredicted[entry.Predicted]++;
                }

                continue;
            }

            var bin = Math.Clamp((int)(score * bins), 0, bins - 1);
            if (inWindow)
            {
                summary.ScoredByPredictedBin[(entry.Predicted * bins) + bin]++;
                summary.ScoreSumByPredictedBin[(entry.Predicted * bins) + bin] += score;
                if (entry.Labelled && entry.Actual < k)
                {
                    summary.ScoredLabelledCells[(entry.Actual * k) + entry.Predicted]++;
                }
            }

            if (entry.Labelled && entry.EventTicks < query.CalibrationBeforeTicks && entry.Actual < k)
            {
                summary.CalibrationByActualBin[(entry.Actual * bins) + bin]++;
                summary.CalibrationScoreSumByBin[bin] += score;
            }
        }

        return ValueTask.FromResult(summary);
    }

    /// <summary>
    /// The change is stored, but a segment has not applied it: the caller is not told "done" (a 202, a stream
    /// acknowledgement) until it has. Its retry is a no-op for the join and sends the stored deliveries again.
    /// </summary>
    private void RequireDelivered()
    {
        if (state.State.Outbox.Count > 0)
        {
            throw new LabelDeliveryPendingException($"Label-join shard {this.GetPrimaryKeyString()} stored the change but {state.State.Outbox.Count} segment delivery(ies) are outstanding; retry.");
        }
    }

    /// <summary>Expires early labels past the grace period (orphaned) and predictions past their time to live, then retries deliveries.</summary>
    private async Task SweepAsync()
    {
        await ReloadIfNeededAsync();
        var definition = await DefinitionAsync(refresh: true);
        var now = clock.GetUtcNow().UtcTicks;
        var grace = (definition?.EffectiveLabelGracePeriod ?? ModelDefinition.DefaultLabelGracePeriod).Ticks;
        var ttl = (definition?.EffectiveLabelTtl ?? ModelDefinition.DefaultLabelTtl).Ticks;
        var changed = false;
        List<string>? orphaned = null;
        foreach (var (id, label) in state.State.EarlyLabels)
        {
            if (now - label.ArrivedTicks > grace)
            {
                (orphaned ??= []).Add(id);
            }
        }

        foreach (var id in orphaned ?? [])
        {
            state.State.EarlyLabels.Remove(id);
            state.State.Counters.Orphaned++;
            instruments.Label(_model, "orphaned");
            changed = true;
        }

        if (orphaned is not null)
        {
            Log.LabelsOrphaned(logger, _model, orphaned.Count, orphaned[0]);
        }

        var k = definition?.Classes.Length ?? 0;
        var deltas = new DeltaCollector(_model, k);
        List<string>? expired = null;
        foreach (var (id, entry) in state.State.Entries)
        {
            if (now - entry.EventTicks > ttl)
            {
                (expired ??= []).Add(id);
            }
        }

        foreach (var id in expired ?? [])
        {
            Expire(id, deltas, evicted: false);
            changed = true;
        }

        if (changed)
        {
            await CommitAsync(deltas, force: true);
        }
        else if (state.State.Outbox.Count > 0)
        {
            await DeliverOutboxAsync();
        }

        // The sweep is also the checkpoint when changes are not written before each acknowledgement (memory storage).
        if (_unwritten)
        {
            await PersistAsync();
        }
    }

    private void Expire(string id, DeltaCollector deltas, bool evicted)
    {
        var entry = state.State.Entries[id];
        state.State.Entries.Remove(id);
        if (evicted)
        {
            state.State.Counters.Evicted++;
        }

        if (entry.Labelled)
        {
            // Labelled: its count stays; only the chance to correct it ends.
            return;
        }

        deltas.Add(entry.Version, entry.Segments, LabelDeltaKind.Pending, entry.Predicted, -1, entry.EventTicks);
        deltas.Add(entry.Version, entry.Segments, LabelDeltaKind.Expired, entry.Predicted, 1, entry.EventTicks);
        state.State.Counters.Expired++;
        instruments.ExpiredPredictions(_model, 1);
    }

    /// <summary>Beyond the shard's bound, the oldest predictions by event time leave first (1% at a time, so the sort is rare).</summary>
    private void EvictBeyondCapacity(DeltaCollector deltas, int classCount)
    {
        var max = joinOptions.Value.MaxEntriesPerShard;
        var entries = state.State.Entries;
        if (entries.Count <= max || classCount == 0)
        {
            return;
        }

        var target = max - (max / 100);
        var victims = entries.OrderBy(e => e.Value.EventTicks).Take(entries.Count - target).Select(e => e.Key).ToList();
        foreach (var id in victims)
        {
            Expire(id, deltas, evicted: true);
        }

        Log.JoinShardFull(logger, this.GetPrimaryKeyString(), max, victims.Count);
    }

    /// <summary>Writes the join state with its new deliveries, then delivers; nothing is acknowledged before the write.</summary>
    private async Task CommitAsync(DeltaCollector deltas, bool force = false)
    {
        if (deltas.IsEmpty && !force)
        {
            if (state.State.Outbox.Count > 0)
            {
                await DeliverOutboxAsync();
            }

            return;
        }

        foreach (var (segmentKey, builder) in deltas.BySegment)
        {
            state.State.Outbox.Add(new SegmentDelivery(segmentKey, builder.Build(_producerId, ++state.State.LastSequence, deltas.ClassCount)));
        }

        if (writeOptions.Value.WriteBeforeAcknowledge)
        {
            await PersistAsync();
        }
        else
        {
            _unwritten = true;
        }

        await DeliverOutboxAsync();
    }

    /// <summary>
    /// Sends every outstanding delivery, in sequence order per segment (a segment never sees a later sequence of this
    /// shard before an earlier one it still lacks), segments in parallel. A failed segment keeps its deliveries for
    /// the next attempt; the caller is not failed, because the change is already stored and will reach the segment.
    /// </summary>
    private async Task DeliverOutboxAsync()
    {
        var outbox = state.State.Outbox;
        if (outbox.Count == 0)
        {
            return;
        }

        var bySegment = outbox.GroupBy(d => d.SegmentKey, StringComparer.Ordinal).ToList();
        var delivered = new HashSet<SegmentDelivery>(ReferenceEqualityComparer.Instance);
        await Task.WhenAll(bySegment.Select(async group =>
        {
            var grain = GrainFactory.GetGrain<ISegmentMatrixGrain>(group.Key);
            foreach (var delivery in group)
            {
                try
                {
                    await grain.ApplyLabelDeltasAsync(delivery.Deltas);
                    lock (delivered)
                    {
                        delivered.Add(delivery);
                    }
                }
                catch (Exception ex)
                {
                    Log.LabelDeliveryFailed(logger, this.GetPrimaryKeyString(), group.Key, delivery.Deltas.Sequence, ex.Message);
                    return;
                }
            }
        }));

        outbox.RemoveAll(delivered.Contains);

        // The shortened outbox is written with the next change or sweep; until then a restart resends, and segments skip.
        _unwritten |= delivered.Count > 0;
    }

    private async Task PersistAsync()
    {
        try
        {
            await state.WriteStateAsync();
            storageHealth.Succeeded();
            _unwritten = false;
        }
        catch (Exception ex)
        {
            _mustReload = true;
            storageHealth.Failed(ex);
            throw;
        }
    }

    private async Task PrepareAsync()
    {
        await ReloadIfNeededAsync();
        if (state.State.Outbox.Count > 0)
        {
            await DeliverOutboxAsync();
        }
    }

    private async ValueTask ReloadIfNeededAsync()
    {
        if (!_mustReload)
        {
            return;
        }

        await state.ReadStateAsync();
        _versions.Clear();
        _segmentSets.Clear();
        InternLoadedEntries();
        _mustReload = false;
    }

    private async ValueTask<ModelDefinition?> DefinitionAsync(bool refresh = false)
    {
        var now = clock.GetUtcNow();
        if (_definition is null || refresh || now - _definitionReadAt > VersionRouterGrain.DefinitionRefreshInterval)
        {
            _definition = await GrainFactory.GetGrain<IModelRegistryGrain>(_model).GetAsync() ?? _definition;
            _definitionReadAt = now;
        }

        return _definition;
    }

    private string ClassName(int index) =>
        _definition is { } d && index >= 0 && index < d.Classes.Length ? d.Classes[index] : index.ToString(System.Globalization.CultureInfo.InvariantCulture);

    private string Intern(string version)
    {
        if (!_versions.TryGetValue(version, out var interned))
        {
            _versions.Add(version, version);
            interned = version;
        }

        return interned;
    }

    /// <summary>Many predictions share a segment set; one array per distinct set keeps a waiting prediction small.</summary>
    private string[] Intern(ImmutableArray<string> segments) => Intern(segments.AsSpan());

    private string[] Intern(ReadOnlySpan<string> segments)
    {
        var key = string.Join('\n', segments.ToArray());
        if (!_segmentSets.TryGetValue(key, out var interned))
        {
            interned = segments.ToArray();
            _segmentSets.Add(key, interned);
        }

        return interned;
    }

    private void InternLoadedEntries()
    {
        foreach (var entry in state.State.Entries.Values)
        {
            entry.Version = Intern(entry.Version);
            entry.Segments = Intern(entry.Segments.AsSpan());
        }
    }

    /// <summary>Collects changes per segment grain of one shard operation.</summary>
    private sealed class DeltaCollector(string model, int classCount)
    {
        public int ClassCount { get; } = classCount;

        public Dictionary<string, DeltaBuilder> BySegment { get; } = new(StringComparer.Ordinal);

        public bool IsEmpty => BySegment.Count == 0;

        public void Add(string version, string[] segments, LabelDeltaKind kind, int cell, int delta, long eventTicks, long latencyTicks = -1)
        {
            foreach (var segment in segments)
            {
                var key = Abstractions.Segments.MatrixKey(model, version, segment);
                if (!BySegment.TryGetValue(key, out var builder))
                {
                    builder = new DeltaBuilder();
                    BySegment[key] = builder;
                }

                builder.Add(kind, cell, delta, eventTicks, latencyTicks);
            }
        }
    }

    private sealed class DeltaBuilder
    {
        private readonly List<LabelDeltaKind> _kinds = [];
        private readonly List<int> _cells = [];
        private readonly List<sbyte> _deltas = [];
        private readonly List<long> _ticks = [];
        private readonly List<long> _latency = [];

        public void Add(LabelDeltaKind kind, int cell, int delta, long eventTicks, long latencyTicks)
        {
            _kinds.Add(kind);
            _cells.Add(cell);
            _deltas.Add((sbyte)delta);
            _ticks.Add(eventTicks);
            _latency.Add(latencyTicks);
        }

        public SegmentLabelDeltas Build(string producerId, long sequence, int classCount) =>
            new(producerId, sequence, classCount, [.. _kinds], [.. _cells], [.. _deltas], [.. _ticks], [.. _latency]);
    }
}

/// <summary>A label-join change is stored but not yet applied by every segment; retrying the call completes it.</summary>
[GenerateSerializer, Alias("cm.LabelDeliveryPendingException")]
public sealed class LabelDeliveryPendingException : Exception
{
    public LabelDeliveryPendingException()
    {
    }

    public LabelDeliveryPendingException(string message)
        : base(message)
    {
    }

    public LabelDeliveryPendingException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
