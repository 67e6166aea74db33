using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace ConfusionMatrix.Grains;

public static class GrainServiceCollectionExtensions
{
    /// <summary>Services the grains depend on: the instruments and the application clock (tests register one over a fake time provider first).</summary>
    public static IServiceCollection AddConfusionMatrixGrainServices(this IServiceCollection services)
    {
        services.AddMetrics();
        services.TryAddSingleton<ApplicationClock>();
        services.TryAddSingleton<ConfusionMatrixInstruments>();
        services.TryAddSingleton<StorageHealth>();
        services.TryAddSingleton<ModelQualityGauges>();
        services.TryAddSingleton<ControlStateSize>();
        services.AddOptions<DriftWatcherOptions>();
        services.AddOptions<SegmentMatrixOptions>().ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<SegmentMatrixOptions>, SegmentMatrixOptionsValidator>());
        services.AddOptions<LabelJoinOptions>().ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<LabelJoinOptions>, LabelJoinOptionsValidator>());
        if (!services.Any(d => d.ServiceType == typeof(WebhookSender)))
        {
            WebhookSender.AddWebhookClient(services);
        }

        services.TryAddSingleton<WebhookSender>();
        services.TryAddSingleton<IWebhookSender>(sp => sp.GetRequiredService<WebhookSender>());
        services.AddHostedService(sp => sp.GetRequiredService<WebhookSender>());
        services.TryAddSingleton<IRolloutNotifier, RolloutNotifier>();
        return services;
    }
}
