namespace ConfusionMatrix.Grains;

/// <summary>
/// The clock that windows, baselines and drift evaluation read. It is its own service rather than the container's
/// <see cref="TimeProvider"/>, so tests can move it freely without also moving the clock Orleans schedules its timers by.
/// </summary>
public sealed class ApplicationClock(TimeProvider inner) : TimeProvider
{
    public ApplicationClock()
        : this(System)
    {
    }

    public TimeProvider Inner { get; } = inner;

    public override DateTimeOffset GetUtcNow() => Inner.GetUtcNow();

    public override long GetTimestamp() => Inner.GetTimestamp();

    public override TimeZoneInfo LocalTimeZone => Inner.LocalTimeZone;
}
