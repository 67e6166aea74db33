using System.Collections.Immutable;

namespace ConfusionMatrix.Abstractions;

/// <summary>A batch refused whole, kept with its reason so an operator can see what a producer sent.</summary>
[GenerateSerializer, Immutable, Alias("cm.DeadLetter")]
public sealed record DeadLetter(
    [property: Id(0)] DateTimeOffset At,
    [property: Id(1)] string StreamKey,
    [property: Id(2)] string BatchId,
    [property: Id(3)] int Predictions,
    [property: Id(4)] string Reason);

/// <summary>The dead letters of one model (key: model name), newest last, bounded.</summary>
[Alias("cm.IDeadLetterGrain")]
public interface IDeadLetterGrain : IGrainWithStringKey
{
    [Alias("Add")]
    Task AddAsync(DeadLetter letter);

    [Alias("Get"), Orleans.Concurrency.ReadOnly]
    ValueTask<ImmutableArray<DeadLetter>> GetAsync();
}
