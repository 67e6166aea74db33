namespace ConfusionMatrix.Abstractions;

/// <summary>What a request carrying an <c>Idempotency-Key</c> may do.</summary>
[GenerateSerializer, Alias("cm.IdempotencyStatus")]
public enum IdempotencyStatus
{
    /// <summary>Publish, numbering the request's batches from <see cref="IdempotencyReservation.FirstSequence"/> as <see cref="IdempotencyReservation.ProducerId"/>.</summary>
    Publish,

    /// <summary>The first request with this key has been answered: send its answer again.</summary>
    Replay,

    /// <summary>A request with this key is being handled right now.</summary>
    InProgress,

    /// <summary>The key was used for a different body (or a body cut into a different number of batches).</summary>
    Mismatch,
}

/// <summary>
/// The answer to a keyed request. A retry of a request that was not answered gets the same producer id and sequence
/// numbers again, so whatever part of it did reach the prediction log is recognised as a replay and not counted twice.
/// </summary>
[GenerateSerializer, Immutable, Alias("cm.IdempotencyReservation")]
public sealed record IdempotencyReservation(
    [property: Id(0)] IdempotencyStatus Status,
    [property: Id(1)] string ProducerId,
    [property: Id(2)] long FirstSequence,
    [property: Id(3)] int StatusCode,
    [property: Id(4)] string? Response);

/// <summary>
/// Idempotency keys of HTTP intake requests, sharded by a hash of the key: each shard numbers the batches of the
/// requests it reserves as its own producer and keeps each key's outcome for a day.
/// </summary>
[Alias("cm.IIdempotencyGrain")]
public interface IIdempotencyGrain : IGrainWithIntegerKey
{
    /// <summary>
    /// Reserves <paramref name="batches"/> sequence numbers for the key, or says why not. <paramref name="handler"/> is
    /// the silo handling the request: if it dies, a retry need not wait for the in-progress timeout.
    /// </summary>
    [Alias("Begin")]
    Task<IdempotencyReservation> BeginAsync(string key, string fingerprint, int batches, SiloAddress handler);

    /// <summary>Stores the answer: later requests with the key get it again.</summary>
    [Alias("Complete")]
    Task CompleteAsync(string key, int statusCode, string response);

    /// <summary>Not all of it was published: the key stays reserved with its numbers, for the caller's retry.</summary>
    [Alias("Release")]
    Task ReleaseAsync(string key);
}

public static class Idempotency
{
    public const string Header = "Idempotency-Key";

    public const string ReplayedHeader = "Idempotent-Replayed";

    public const int MaxKeyLength = 200;

    /// <summary>Shards of the key space; each is one grain, one producer and one storage record.</summary>
    public const int ShardCount = 64;

    public static int ShardOf(string key) => LabelLog.ShardOf(key, ShardCount);

    /// <summary>Printable ASCII, 1 to <see cref="MaxKeyLength"/> characters (a UUID, a hash, a job and chunk number…).</summary>
    public static bool IsValidKey(string? key) =>
        !string.IsNullOrEmpty(key) && key.Length <= MaxKeyLength && key.All(c => c is >= (char)0x21 and <= (char)0x7e);
}
