using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace ConfusionMatrix.Grains;

public static class GrainServiceCollectionExtensions
{
    /// <summary>Services the grains depend on: the instruments and the clock (tests replace the clock with a fake one).</summary>
    public static IServiceCollection AddConfusionMatrixGrainServices(this IServiceCollection services)
    {
        services.AddMetrics();
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<ConfusionMatrixInstruments>();
        return services;
    }
}
