using Microsoft.Extensions.Logging;
using Polly;
using Polly.Retry;

namespace ConfusionMatrix.Client;

/// <summary>
/// Delivers one batch to the sink through a retry pipeline: retried without end with exponential backoff and full
/// jitter, always as the same batch (same producer id and sequence), until it is sent, refused for good
/// (<see cref="NonRetryableSinkException"/>) or the logger gives up at shutdown (cancellation).
/// </summary>
internal sealed class SinkRetry
{
    private static readonly ResiliencePropertyKey<SinkBatch> BatchKey = new("confusionmatrix.client.batch");

    private readonly IPredictionSink _sink;
    private readonly ILogger _logger;
    private readonly TimeSpan _baseDelay;
    private readonly TimeSpan _maxDelay;
    private readonly ResiliencePipeline _pipeline;

    public SinkRetry(IPredictionSink sink, TimeSpan baseDelay, TimeSpan maxDelay, PredictionClientMetrics metrics, ILogger logger, TimeProvider time)
    {
        _sink = sink;
        _logger = logger;
        _baseDelay = baseDelay;
        _maxDelay = maxDelay;
        _pipeline = new ResiliencePipelineBuilder { TimeProvider = time }
            .AddRetry(new RetryStrategyOptions
            {
                MaxRetryAttempts = int.MaxValue,
                ShouldHandle = args => ValueTask.FromResult(
                    args.Outcome.Exception is { } ex && ex is not NonRetryableSinkException && !args.Context.CancellationToken.IsCancellationRequested),
                DelayGenerator = args => ValueTask.FromResult<TimeSpan?>(Backoff(args.AttemptNumber + 1)),
                OnRetry = args =>
                {
                    var batch = args.Context.Properties.GetValue(BatchKey, null!);
                    metrics.Retry(batch.Model);
                    Log.SendFailed(logger, args.Outcome.Exception!, batch.ProducerId, batch.Sequence, batch.Count, batch.StreamKey, batch.Attempt, args.RetryDelay.TotalMilliseconds);
                    return ValueTask.CompletedTask;
                },
            })
            .Build();
    }

    /// <summary>True when sent, false when refused for good; throws <see cref="OperationCanceledException"/> when cancelled.</summary>
    public async Task<bool> DeliverAsync(SinkBatch batch, CancellationToken cancellationToken)
    {
        var context = ResilienceContextPool.Shared.Get(batch.StreamKey, continueOnCapturedContext: false, cancellationToken);
        context.Properties.Set(BatchKey, batch);
        try
        {
            await _pipeline.ExecuteAsync(
                static async (context, state) =>
                {
                    state.Batch.Attempt++;
                    await state.Sink.SendAsync(state.Batch, context.CancellationToken).ConfigureAwait(false);
                },
                context,
                (Sink: _sink, Batch: batch)).ConfigureAwait(false);
            if (batch.Attempt > 1)
            {
                Log.SendRecovered(_logger, batch.ProducerId, batch.Sequence, batch.StreamKey, batch.Attempt);
            }

            return true;
        }
        catch (NonRetryableSinkException ex)
        {
            Log.SinkRejected(_logger, ex, batch.ProducerId, batch.Sequence, batch.StreamKey, batch.Count);
            return false;
        }
        catch (Exception ex) when (ex is not OperationCanceledException && cancellationToken.IsCancellationRequested)
        {
            // Cancelled while an attempt was failing: the pipeline hands back that attempt's error, but the caller
            // gave up, and giving up is what it must see.
            throw new OperationCanceledException("delivery cancelled after a failed attempt", ex, cancellationToken);
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }
    }

    /// <summary>Exponential backoff with full jitter: uniform in [0, min(max, base * 2^(attempt-1))].</summary>
    internal TimeSpan Backoff(int attempt)
    {
        var ceiling = Math.Min(_maxDelay.TotalMilliseconds, _baseDelay.TotalMilliseconds * Math.Pow(2, Math.Min(attempt - 1, 30)));
        return TimeSpan.FromMilliseconds(Random.Shared.NextDouble() * ceiling);
    }
}
