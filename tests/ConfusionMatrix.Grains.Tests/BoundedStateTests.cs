using System.Collections.Immutable;
using ConfusionMatrix.Abstractions;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Serialization;
using Xunit.Abstractions;
using static ConfusionMatrix.Tests.Shared.ClusterTestHelpers;

namespace ConfusionMatrix.Grains.Tests;

/// <summary>
/// State that grows with use (the audit trail, the rollout history with its verdicts) stays, as stored, well under what
/// one Azure Table entity takes however long a model lives, and is read a page at a time.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class BoundedStateTests(ClusterFixture fixture, ITestOutputHelper output)
{
    [Fact]
    public async Task RolloutHistoryWrittenPastItsBounds_StaysSmall_AndPagesThroughWhatIsKept()
    {
        var model = UniqueModel("bounded-rollout");
        var rollout = fixture.Client.GetGrain<IRolloutControllerGrain>(model);
        await rollout.SetStableAsync("v1", "operator:alice", "first release");
        await rollout.StartCanaryAsync("v2", 20, "operator:alice", "try v2");

        // Each cycle: the watcher pauses the canary with a verdict over 200 classes, an operator resumes it.
        var verdict = ManyClassVerdict(model, "v2", classes: 200);
        const int Cycles = 600;
        for (var i = 0; i < Cycles; i++)
        {
            await rollout.OnVerdictAsync(verdict);
            await rollout.ResumeAsync("operator:bob", $"resume {i}");
        }

        var written = 2 + (2 * Cycles);
        var state = await rollout.GetStateAsync();
        Assert.Equal(RolloutPhase.Progressing, state.Routing.Phase);
        Assert.InRange(state.History.Length, 2, RolloutControllerGrain.MaxHistory);
        Assert.True(state.History.Sum(RolloutControllerGrain.EstimatedChars) <= RolloutControllerGrain.MaxHistoryChars);
        Assert.All(state.History.Where(t => t.Verdict is not null), t => Assert.InRange(t.Verdict!.ClassDeltas.Length, 1, RolloutControllerGrain.MaxVerdictDeltas));
        Assert.Equal(written, state.History[^1].Sequence);

        // What storage holds (the grain-storage serializer's form, as Azure Table would receive it) stays well under
        // one table entity, although the verdicts written would not fit in several.
        var bytes = (await StoredStateAsync(fixture.Client, "rollout", rollout.GetGrainId())).Length;
        output.WriteLine($"rollout state after {written} transitions: {bytes} bytes stored");
        Assert.True(bytes < AzureTableStateLimit / 2, $"the rollout state is stored in {bytes} bytes");
        var serializer = fixture.Client.ServiceProvider.GetRequiredService<Serializer>();
        var unbounded = serializer.SerializeToArray(verdict).Length * (long)Cycles;
        Assert.True(unbounded > AzureTableStateLimit, $"the test must write past the bound ({unbounded} bytes of verdicts)");

        // Pages walk the kept history in order; the dropped count accounts for the rest.
        var seen = new List<long>();
        long? after = null;
        RolloutHistoryPage page;
        do
        {
            page = await rollout.GetHistoryAsync(after, 50);
            Assert.InRange(page.Transitions.Length, 1, 50);
            seen.AddRange(page.Transitions.Select(t => t.Sequence));
            after = page.Next;
        }
        while (after is not null);

        Assert.Equal(state.History.Select(t => t.Sequence), seen);
        Assert.Equal(written, page.Dropped + seen.Count);
    }

    [Fact]
    public async Task AuditTrailWrittenPastItsBounds_StaysSmall_AndPagesThroughWhatIsKept()
    {
        var model = UniqueModel("bounded-audit");
        var trail = fixture.Client.GetGrain<IAuditTrailGrain>(model);
        var snapshot = new string('x', AuditTrailGrain.MaxSnapshotChars - 16);
        const int Written = 1200;
        for (var i = 0; i < Written; i++)
        {
            await trail.AppendAsync(new AuditRecord(
                0, ClusterFixture.Time.GetUtcNow(), "operator:alice", ["operator"], "baseline.set", $"PUT /api/v1/models/{model}/x",
                $"\"{snapshot}\"", $"\"{snapshot}\"", $"request-{i}", "a note", 200));
        }

        var first = await trail.ReadAsync(null, null, AuditTrailGrain.MaxPageSize);
        Assert.Null(first.Next);
        var kept = first.Records;
        Assert.InRange(kept.Length, 10, AuditTrailGrain.DefaultMaxRecords);
        Assert.Equal(Written, kept[^1].Sequence);
        Assert.Equal(Written, first.Dropped + kept.Length);

        var bytes = (await StoredStateAsync(fixture.Client, "audit", trail.GetGrainId())).Length;
        output.WriteLine($"audit trail after {Written} records: {bytes} bytes stored");
        Assert.True(bytes < AzureTableStateLimit / 2, $"the kept trail is stored in {bytes} bytes");

        var seen = new List<long>();
        long? after = null;
        do
        {
            var page = await trail.ReadAsync(null, after, 7);
            seen.AddRange(page.Records.Select(r => r.Sequence));
            after = page.Next;
        }
        while (after is not null);

        Assert.Equal(kept.Select(r => r.Sequence), seen);
    }

    private static DriftVerdict ManyClassVerdict(string model, string version, int classes)
    {
        var deltas = Enumerable.Range(0, classes).SelectMany(c => new[]
        {
            new ClassDeltaView($"class-{c}", "recall", 0.9, 0.7, 0.2, 0.001, 0.05, 5000, 5000, true, c % 7 == 0, true, 0.05 + (c * 1e-4), 0.3, 900, false),
            new ClassDeltaView($"class-{c}", "fpr", 0.01, 0.01, 0, 1, 0.05, 5000, 5000, true, false, false, -0.01, 0.01, 1, false),
            new ClassDeltaView($"class-{c}", "precision", 0.9, 0.9, 0, 1, 0, 5000, 5000, false, false, false),
        }).ToImmutableArray();
        return new DriftVerdict(
            model, version, Segments.All, DriftVerdict.Drift, "recall of several classes dropped", "stable v1 over the same epoch",
            0.1, 0.05, 120, 3, 1e-6, 1e-5, 500_000, 500_000, deltas, ClusterFixture.Time.GetUtcNow(), 12, 900, false);
    }
}
