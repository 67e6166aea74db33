using System.Collections.Immutable;
using ConfusionMatrix.Abstractions;

namespace ConfusionMatrix.Grains;

[GenerateSerializer, Alias("cm.DeadLetterState")]
public sealed class DeadLetterState
{
    [Id(0)] public List<DeadLetter> Letters { get; set; } = [];

    [Id(1)] public long Total { get; set; }
}

/// <summary>Keeps the last <see cref="MaxLetters"/> refused batches of a model, so a poison batch is visible, not just counted.</summary>
public sealed class DeadLetterGrain(
    [PersistentState("deadletters", StorageNames.Control)] IPersistentState<DeadLetterState> state,
    ConfusionMatrixInstruments instruments) : Grain, IDeadLetterGrain
{
    internal const int MaxLetters = 1000;

    public async Task AddAsync(DeadLetter letter)
    {
        state.State.Letters.Add(letter);
        state.State.Total++;
        if (state.State.Letters.Count > MaxLetters)
        {
            state.State.Letters.RemoveRange(0, state.State.Letters.Count - MaxLetters);
        }

        instruments.DeadLettered(this.GetPrimaryKeyString());
        await state.WriteStateAsync();
    }

    public ValueTask<ImmutableArray<DeadLetter>> GetAsync() => ValueTask.FromResult(state.State.Letters.ToImmutableArray());
}
