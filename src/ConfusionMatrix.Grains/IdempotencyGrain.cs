using ConfusionMatrix.Abstractions;
using Microsoft.Extensions.Logging;

namespace ConfusionMatrix.Grains;

[GenerateSerializer, Alias("cm.IdempotencyState")]
public sealed class IdempotencyState
{
    [Id(0)] public Dictionary<string, IdempotencyEntry> Keys { get; set; } = new(StringComparer.Ordinal);

    /// <summary>Next batch sequence number of this shard's producer.</summary>
    [Id(1)] public long NextSequence { get; set; }
}

[GenerateSerializer, Alias("cm.IdempotencyEntry")]
public sealed class IdempotencyEntry
{
    [Id(0)] public string Fingerprint { get; set; } = "";

    [Id(1)] public long FirstSequence { get; set; }

    [Id(2)] public int Batches { get; set; }

    /// <summary>When the key was first seen; it is forgotten <see cref="IdempotencyGrain.Retention"/> later.</summary>
    [Id(3)] public DateTimeOffset FirstSeen { get; set; }

    /// <summary>Set while a request with the key is being handled.</summary>
    [Id(4)] public DateTimeOffset? InProgressSince { get; set; }

    [Id(5)] public int StatusCode { get; set; }

    /// <summary>The answer once every batch was published; null until then.</summary>
    [Id(6)] public string? Response { get; set; }

    /// <summary>The silo handling the request while it is in progress.</summary>
    [Id(7)] public SiloAddress? Handler { get; set; }
}

/// <summary>
/// One shard of the idempotency keys (see <see cref="IIdempotencyGrain"/>). A key's reservation is stored before any
/// batch is published and its answer after all are, so a retry after any failure, even a silo that died mid-request,
/// publishes the same numbered batches again and the segment grains' replay windows count each once.
/// </summary>
public sealed partial class IdempotencyGrain(
    [PersistentState("idempotency", StorageNames.Control)] IPersistentState<IdempotencyState> state,
    ApplicationClock clock,
    IClusterMembershipService membership,
    ILogger<IdempotencyGrain> logger) : Grain, IIdempotencyGrain
{
    /// <summary>
    /// How long a key is remembered: a day covers any client retry policy and a replayed job of the same day. A retry
    /// later than that is counted again; so is one after <see cref="MaxKeys"/> newer keys of this shard.
    /// </summary>
    internal static readonly TimeSpan Retention = TimeSpan.FromDays(1);

    /// <summary>
    /// A request still "in progress" after this long was dropped with the silo that handled it; a retry may then take
    /// it over. Well above the longest a request takes (body read plus about four seconds of enqueue retries).
    /// </summary>
    internal static readonly TimeSpan InProgressTimeout = TimeSpan.FromSeconds(30);

    /// <summary>Keys per shard (64 shards): about 640 000 keyed requests a day before the oldest are forgotten.</summary>
    internal const int MaxKeys = 10_000;

    /// <summary>
    /// Sequence numbers a retried reservation may lag behind its shard's newest and still be told apart from a replay
    /// by a segment grain (its replay window is 4096 wide): an older reservation is refused rather than risked.
    /// </summary>
    private const long MaxSequenceLag = 4000;

    private string ProducerId => $"http-idempotent-{this.GetPrimaryKeyLong()}";

    public async Task<IdempotencyReservation> BeginAsync(string key, string fingerprint, int batches, SiloAddress handler)
    {
        var now = clock.GetUtcNow();
        Prune(now);
        var keys = state.State.Keys;
        if (keys.TryGetValue(key, out var entry))
        {
            if (entry.Fingerprint != fingerprint || entry.Batches != batches)
            {
                return new(IdempotencyStatus.Mismatch, ProducerId, 0, 0, null);
            }

            if (entry.Response is not null)
            {
                return new(IdempotencyStatus.Replay, ProducerId, entry.FirstSequence, entry.StatusCode, entry.Response);
            }

            // A silo that died (or restarted: its successor on the same address marks it dead) answers nobody.
            if (entry.InProgressSince is { } since && now - since < InProgressTimeout
                && (entry.Handler is null || membership.CurrentSnapshot.GetSiloStatus(entry.Handler) != SiloStatus.Dead))
            {
                return new(IdempotencyStatus.InProgress, ProducerId, 0, 0, null);
            }

            if (state.State.NextSequence - entry.FirstSequence > MaxSequenceLag)
            {
                LogTooOld(logger, key, state.State.NextSequence - entry.FirstSequence);
                return new(IdempotencyStatus.Mismatch, ProducerId, 0, 0, null);
            }

            entry.InProgressSince = now;
            entry.Handler = handler;
            await state.WriteStateAsync();
            return new(IdempotencyStatus.Publish, ProducerId, entry.FirstSequence, 0, null);
        }

        entry = new IdempotencyEntry
        {
            Fingerprint = fingerprint,
            FirstSequence = state.State.NextSequence + 1,
            Batches = batches,
            FirstSeen = now,
            InProgressSince = now,
            Handler = handler,
        };
        state.State.NextSequence += Math.Max(batches, 1);
        keys[key] = entry;
        await state.WriteStateAsync();
        return new(IdempotencyStatus.Publish, ProducerId, entry.FirstSequence, 0, null);
    }

    public async Task CompleteAsync(string key, int statusCode, string response)
    {
        if (state.State.Keys.TryGetValue(key, out var entry))
        {
            entry.StatusCode = statusCode;
            entry.Response = response;
            entry.InProgressSince = null;
            entry.Handler = null;
            await state.WriteStateAsync();
        }
    }

    public async Task ReleaseAsync(string key)
    {
        if (state.State.Keys.TryGetValue(key, out var entry) && entry.Response is null)
        {
            entry.InProgressSince = null;
            await state.WriteStateAsync();
        }
    }

    private void Prune(DateTimeOffset now)
    {
        var keys = state.State.Keys;
        foreach (var (key, _) in keys.Where(kv => now - kv.Value.FirstSeen > Retention).ToList())
        {
            keys.Remove(key);
        }

        if (keys.Count >= MaxKeys)
        {
            foreach (var (key, _) in keys.OrderBy(kv => kv.Value.FirstSeen).Take(keys.Count - MaxKeys + 1).ToList())
            {
                keys.Remove(key);
            }
        }
    }

    [LoggerMessage(EventId = 1301, Level = LogLevel.Warning, Message = "Audit: idempotency key {Key} was reserved {Lag} batch numbers ago, too far back to be told apart from a replay; the retry is refused")]
    private static partial void LogTooOld(ILogger logger, string key, long lag);
}
