using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace ConfusionMatrix.Client;

public static class PredictionLoggerServiceCollectionExtensions
{
    /// <summary>
    /// Registers a singleton <see cref="PredictionLogger"/> sending through <typeparamref name="TSink"/>, its options
    /// (validated at start) and metrics, and a hosted service that drains the logger when the host stops. Call it after
    /// the Orleans client is added, so the logger drains before the client disconnects (hosted services stop in reverse).
    /// </summary>
    public static OptionsBuilder<PredictionLoggerOptions> AddPredictionLogger<TSink>(this IServiceCollection services, Action<PredictionLoggerOptions>? configure = null)
        where TSink : class, IPredictionSink
    {
        ArgumentNullException.ThrowIfNull(services);
        services.AddMetrics();
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<PredictionClientMetrics>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<PredictionLoggerOptions>, PredictionLoggerOptionsValidator>());
        var options = services.AddOptions<PredictionLoggerOptions>();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        options.ValidateOnStart();
        services.TryAddSingleton<TSink>();
        services.TryAddSingleton<IPredictionSink>(sp => sp.GetRequiredService<TSink>());
        services.TryAddSingleton<PredictionLogger>();
        services.AddHostedService<PredictionLoggerDrainService>();
        return options;
    }
}

/// <summary>Drains the logger on host shutdown (within the logger's drain timeout and the host's shutdown token).</summary>
internal sealed class PredictionLoggerDrainService(PredictionLogger logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => logger.DisposeAsync().AsTask().WaitAsync(cancellationToken);
}
