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
/// in the order they send them, but the transport may deliver one late: an Azure Queue message held by a silo that
/// died comes back only after its visibility timeout, while the queue's next owner goes on with the later ones. The
/// window is wide (4096 numbers, 512 bytes) so such a batch is still told apart from a replay and counted, never
/// accepted twice; only one more than <see cref="Width"/> numbers behind is skipped as too old.
/// </summary>
public struct ReplayWindow
{
    public const int Width = 4096;

    /// <summary>Words of the bitmap beyond the first: ages 64 to <see cref="Width"/> - 1.</summary>
    public const int OlderWords = (Width / 64) - 1;

    private ulong[]? _older;

    public ReplayWindow(long highest, ulong seen, ulong[]? older = null)
    {
        if (older is not null && older.Length != OlderWords)
        {
            throw new ArgumentException($"older must hold {OlderWords} words (got {older.Length}).", nameof(older));
        }

        Highest = highest;
        Seen = seen;
        _older = older;
    }

    /// <summary>Highest sequence number applied; 0 before the first.</summary>
    public long Highest { get; private set; }

    /// <summary>Bit i set: sequence <c>Highest - i</c> was applied (bit 0 is <see cref="Highest"/> itself), for i below 64.</summary>
    public ulong Seen { get; private set; }

    /// <summary>
    /// Bit i of word k set: sequence <c>Highest - 64 (k + 1) - i</c> was applied; null while none that old was. A new
    /// array after every <see cref="Mark"/> that moves it, so a stored copy is never changed.
    /// </summary>
    public readonly ulong[]? Older => _older;

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

        return IsSet(age) ? ReplayDecision.Duplicate : ReplayDecision.Accept;
    }

    public void Mark(long sequence)
    {
        if (sequence > Highest)
        {
            var shift = sequence - Highest;
            Shift(shift);
            Seen |= 1UL;
            Highest = sequence;
            return;
        }

        var age = Highest - sequence;
        if (age < 64)
        {
            Seen |= 1UL << (int)age;
        }
        else if (age < Width)
        {
            var older = _older is null ? new ulong[OlderWords] : (ulong[])_older.Clone();
            older[(int)((age / 64) - 1)] |= 1UL << (int)(age % 64);
            _older = older;
        }
    }

    /// <summary>Word k of the whole bitmap: 0 is <see cref="Seen"/>, the rest <see cref="Older"/>.</summary>
    private static ulong Word(ulong seen, ulong[]? older, int k) => k == 0 ? seen : older is null ? 0UL : older[k - 1];

    private readonly bool IsSet(long age) =>
        age < 64
            ? (Seen & (1UL << (int)age)) != 0
            : _older is { } older && (older[(int)((age / 64) - 1)] & (1UL << (int)(age % 64))) != 0;

    /// <summary>Ages every bit by <paramref name="shift"/>: the whole bitmap, word 0 being <see cref="Seen"/>.</summary>
    private void Shift(long shift)
    {
        if (shift >= Width)
        {
            Seen = 0;
            _older = null;
            return;
        }

        if (shift < 64 && _older is null && (Seen >> (int)(64 - shift)) == 0)
        {
            // Nothing reaches the older words (a new producer, or one seldom seen here): no allocation.
            Seen <<= (int)shift;
            return;
        }

        var wordShift = (int)(shift / 64);
        var bitShift = (int)(shift % 64);
        var older = new ulong[OlderWords];
        for (var k = OlderWords; k >= 0; k--)
        {
            var from = k - wordShift;
            var value = from >= 0 ? Word(Seen, _older, from) << bitShift : 0UL;
            if (bitShift > 0 && from - 1 >= 0)
            {
                value |= Word(Seen, _older, from - 1) >> (64 - bitShift);
            }

            if (k == 0)
            {
                Seen = value;
            }
            else
            {
                older[k - 1] = value;
            }
        }

        _older = Array.TrueForAll(older, w => w == 0) ? null : older;
    }
}
