namespace ConfusionMatrix.Core;

/// <summary>What a replay window says about a sequence number.</summary>
public enum ReplayDecision
{
    /// <summary>Never seen: apply it.</summary>
    Accept,

    /// <summary>Seen before: a redelivery or replay; skip it.</summary>
    Duplicate,

    /// <summary>Older than the window: it cannot be told apart from a replay, so it is skipped and reported.</summary>
    TooOld,
}

/// <summary>
/// Replay detection for one producer: the highest sequence number applied plus a bitmap of the
/// <see cref="Width"/> numbers below it (the anti-replay window of IPsec, RFC 4303 §3.4.3). Producers number batches
/// in the order they send them, so deliveries are in order and the highest number alone would do; the bitmap also
/// accepts batches that a multi-queue transport reorders by up to <see cref="Width"/> places, without ever
/// accepting one twice.
/// </summary>
public struct ReplayWindow
{
    public const int Width = 64;

    public ReplayWindow(long highest, ulong seen)
    {
        Highest = highest;
        Seen = seen;
    }

    /// <summary>Highest sequence number applied; 0 before the first.</summary>
    public long Highest { get; private set; }

    /// <summary>Bit i set: sequence <c>Highest - i</c> was applied (bit 0 is <see cref="Highest"/> itself).</summary>
    public ulong Seen { get; private set; }

    /// <summary>Decides without changing the window; call <see cref="Mark"/> once the batch is applied and stored.</summary>
    public readonly ReplayDecision Check(long sequence)
    {
        if (sequence > Highest)
        {
            return ReplayDecision.Accept;
        }

        var age = Highest - sequence;
        if (age >= Width)
        {
            return ReplayDecision.TooOld;
        }

        return (Seen & (1UL << (int)age)) != 0 ? ReplayDecision.Duplicate : ReplayDecision.Accept;
    }

    public void Mark(long sequence)
    {
        if (sequence > Highest)
        {
            var shift = sequence - Highest;
            Seen = shift >= Width ? 1UL : (Seen << (int)shift) | 1UL;
            Highest = sequence;
            return;
        }

        var age = Highest - sequence;
        if (age < Width)
        {
            Seen |= 1UL << (int)age;
        }
    }
}
