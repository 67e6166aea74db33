using ConfusionMatrix.Abstractions;
using Microsoft.Extensions.Options;

namespace InferenceService;

/// <summary>
/// Caches the rollout controller's routing table for a few seconds. If the controller cannot be reached the last
/// table is kept (or the default version served), so scoring never waits on the cluster's control plane.
/// </summary>
public sealed partial class RoutingCache(IClusterClient client, IOptions<InferenceOptions> options, TimeProvider time, ILogger<RoutingCache> logger)
{
    private readonly InferenceOptions _options = options.Value;
    private readonly SemaphoreSlim _refresh = new(1, 1);
    private RoutingTable? _table;
    private DateTimeOffset _readAt = DateTimeOffset.MinValue;

    public async ValueTask<string> ChooseVersionAsync(double draw, CancellationToken cancellationToken)
    {
        var table = await GetAsync(cancellationToken);
        return table?.Choose(draw) ?? _options.DefaultVersion;
    }

    private async ValueTask<RoutingTable?> GetAsync(CancellationToken cancellationToken)
    {
        if (time.GetUtcNow() - _readAt < _options.RoutingCacheDuration)
        {
            return _table;
        }

        await _refresh.WaitAsync(cancellationToken);
        try
        {
            if (time.GetUtcNow() - _readAt < _options.RoutingCacheDuration)
            {
                return _table;
            }

            try
            {
                _table = await client.GetGrain<IRolloutControllerGrain>(_options.Model).GetRoutingAsync();
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                LogRoutingUnavailable(logger, ex, _options.Model, _table?.Stable ?? _options.DefaultVersion);
            }

            _readAt = time.GetUtcNow();
            return _table;
        }
        finally
        {
            _refresh.Release();
        }
    }

    [LoggerMessage(EventId = 4001, Level = LogLevel.Warning, Message = "Routing table of {Model} unavailable; serving {Version} until the next refresh")]
    private static partial void LogRoutingUnavailable(ILogger logger, Exception exception, string model, string version);
}
