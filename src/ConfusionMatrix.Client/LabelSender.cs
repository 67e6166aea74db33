using ConfusionMatrix.Abstractions;
using Polly;
using Polly.Retry;

namespace ConfusionMatrix.Client;

/// <summary>The ground truth of one earlier prediction, joined on its id: <c>{model, predictionId, actual, labelTime, source}</c>.</summary>
public sealed record Label(string Model, string PredictionId, string Actual)
{
    /// <summary>When the label was decided. Orders corrections (the later label wins); defaults to the time it is sent.</summary>
    public DateTimeOffset? LabelTime { get; init; }

    /// <summary>Where the label came from (chargeback feed, reviewer queue…), for the audit trail.</summary>
    public string? Source { get; init; }
}

/// <summary>
/// Sends labels of predictions logged earlier without their actual class, as one batch per model through the
/// model's label router. Sending the same labels again is harmless: an equal label is a no-op and an older different
/// one is ignored, so a failed call is simply retried (it is, here, with backoff).
/// </summary>
public sealed class LabelSender(IGrainFactory grains, TimeProvider? clock = null)
{
    private static readonly TimeSpan[] RetryDelays = [TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(2)];

    private readonly TimeProvider _clock = clock ?? TimeProvider.System;

    private readonly ResiliencePipeline _retry = new ResiliencePipelineBuilder { TimeProvider = clock ?? TimeProvider.System }
        .AddRetry(new RetryStrategyOptions
        {
            MaxRetryAttempts = RetryDelays.Length,
            DelayGenerator = args => ValueTask.FromResult<TimeSpan?>(RetryDelays[args.AttemptNumber]),
            ShouldHandle = new PredicateBuilder().Handle<Exception>(ex => ex is not OperationCanceledException),
        })
        .Build();

    /// <summary>Validates and sends; returns each label's outcome in order, or throws after the retries with nothing lost (resend).</summary>
    public async Task<IReadOnlyList<LabelOutcome>> SendAsync(IReadOnlyList<Label> labels, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(labels);
        var now = _clock.GetUtcNow();
        var outcomes = new LabelOutcome[labels.Count];
        var byModel = new Dictionary<string, (LabelBatchBuilder Builder, List<int> Rows)>(StringComparer.Ordinal);
        for (var i = 0; i < labels.Count; i++)
        {
            var label = labels[i];
            var time = label.LabelTime ?? now;
            if (LabelRecordReader.Check(label.Model, label.PredictionId, label.Actual, time, now) is { } problem)
            {
                throw new ArgumentException($"Label {i} ({label.PredictionId}): {problem.Reason}: {problem.Detail}", nameof(labels));
            }

            if (!byModel.TryGetValue(label.Model, out var entry))
            {
                entry = (new LabelBatchBuilder(label.Model), []);
                byModel[label.Model] = entry;
            }

            entry.Builder.Add(label.PredictionId, label.Actual, time, label.Source);
            entry.Rows.Add(i);
        }

        foreach (var (model, (builder, rows)) in byModel)
        {
            var batch = builder.Build();
            var result = await SendWithRetriesAsync(model, batch, cancellationToken);
            if (result.Refused is { } refused)
            {
                throw new InvalidOperationException($"Labels for {model} were refused: {refused}");
            }

            for (var j = 0; j < rows.Count; j++)
            {
                outcomes[rows[j]] = result.Outcomes[j];
            }
        }

        return outcomes;
    }

    private Task<LabelIngestResult> SendWithRetriesAsync(string model, LabelBatch batch, CancellationToken cancellationToken) =>
        _retry.ExecuteAsync(
            static async (state, token) => await state.grains.GetGrain<ILabelRouterGrain>(state.model).IngestAsync(state.batch).WaitAsync(token),
            (grains, model, batch),
            cancellationToken).AsTask();
}
