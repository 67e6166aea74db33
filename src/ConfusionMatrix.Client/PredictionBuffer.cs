namespace ConfusionMatrix.Client;

/// <summary>
/// The bound on predictions a <see cref="PredictionLogger"/> holds (queued, in flight or awaiting retry): a count that
/// is reserved before a prediction is queued and released when its batch is resolved, and a signal that wakes
/// callers waiting for space.
/// </summary>
internal sealed class PredictionBuffer(int capacity)
{
    private TaskCompletionSource _space = NewSignal();
    private long _count;
    private int _fullReported;

    public int Capacity => capacity;

    public long Count => Volatile.Read(ref _count);

    /// <summary>Completes at the next release. Read it before <see cref="TryReserve"/>, so a release in between still wakes the caller.</summary>
    public Task SpaceReleased => Volatile.Read(ref _space).Task;

    public bool TryReserve()
    {
        if (Interlocked.Increment(ref _count) <= capacity)
        {
            return true;
        }

        Interlocked.Decrement(ref _count);
        return false;
    }

    public void Release(long predictions)
    {
        Interlocked.Add(ref _count, -predictions);
        Volatile.Write(ref _fullReported, 0);
        WakeWaiters();
    }

    /// <summary>Wakes every caller waiting for space (they then find space, or find the logger closed).</summary>
    public void WakeWaiters() => Interlocked.Exchange(ref _space, NewSignal()).TrySetResult();

    /// <summary>True only the first time the buffer is found full after a release, so a full buffer is logged once per episode.</summary>
    public bool FirstFullSinceRelease() => Interlocked.Exchange(ref _fullReported, 1) == 0;

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
