namespace ConfusionMatrix.Grains;

/// <summary>
/// What this silo's grains saw of grain storage lately. The health endpoint reports degraded while writes fail, so
/// operators see an outage as it happens, not as missing counts afterwards.
/// </summary>
public sealed class StorageHealth(ConfusionMatrixInstruments instruments, ApplicationClock clock)
{
    /// <summary>How long after the last failed write the silo still reports degraded, unless a write succeeds first.</summary>
    public static readonly TimeSpan Memory = TimeSpan.FromSeconds(30);

    private long _lastFailureTicks;
    private long _lastSuccessTicks;
    private string? _lastProblem;

    public void Failed(Exception ex)
    {
        instruments.StorageFailed();
        _lastProblem = ex.GetBaseException().Message;
        Interlocked.Exchange(ref _lastFailureTicks, clock.GetUtcNow().UtcTicks);
    }

    public void Succeeded() => Interlocked.Exchange(ref _lastSuccessTicks, clock.GetUtcNow().UtcTicks);

    /// <summary>The last problem, if storage failed recently and has not worked since.</summary>
    public string? CurrentProblem
    {
        get
        {
            var failed = Interlocked.Read(ref _lastFailureTicks);
            var succeeded = Interlocked.Read(ref _lastSuccessTicks);
            var recent = failed > 0 && clock.GetUtcNow().UtcTicks - failed < Memory.Ticks;
            return recent && failed > succeeded ? _lastProblem ?? "storage write failed" : null;
        }
    }
}
