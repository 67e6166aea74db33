using System.Diagnostics;

namespace ConfusionMatrix.Tests.Shared;

/// <summary>
/// The one way a test waits: poll until a condition holds, or fail once the deadline has passed with what was last
/// seen. Never a fixed sleep.
/// </summary>
public static class Eventually
{
    public static readonly TimeSpan DefaultDeadline = TimeSpan.FromSeconds(30);
    public static readonly TimeSpan DefaultInterval = TimeSpan.FromMilliseconds(50);

    /// <summary>Reads until <paramref name="condition"/> holds for the value read and returns that value.</summary>
    public static async Task<T> MatchesAsync<T>(
        Func<Task<T>> read,
        Func<T, bool> condition,
        string what,
        TimeSpan? deadline = null,
        TimeSpan? interval = null,
        Func<T, string>? describe = null)
    {
        var limit = deadline ?? DefaultDeadline;
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var value = await read();
            if (condition(value))
            {
                return value;
            }

            if (clock.Elapsed > limit)
            {
                Assert.Fail($"{what} did not happen within {limit.TotalSeconds:0.#} s; last seen: {(describe is null ? value : describe(value))}");
            }

            await Task.Delay(interval ?? DefaultInterval);
        }
    }

    /// <summary>Waits until <paramref name="condition"/> returns true.</summary>
    public static Task TrueAsync(Func<Task<bool>> condition, string what, TimeSpan? deadline = null, TimeSpan? interval = null) =>
        MatchesAsync(condition, held => held, what, deadline, interval);

    /// <summary>Waits until <paramref name="condition"/> returns true.</summary>
    public static Task TrueAsync(Func<bool> condition, string what, TimeSpan? deadline = null, TimeSpan? interval = null) =>
        MatchesAsync(() => Task.FromResult(condition()), held => held, what, deadline, interval);
}
