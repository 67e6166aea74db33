using ConfusionMatrix.Grains;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace ConfusionMatrix.Silo.Hosting;

/// <summary>Degraded while grain-state writes fail: ingestion stalls and retries, nothing is acknowledged uncounted.</summary>
public sealed class StorageHealthCheck(StorageHealth storage) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(storage.CurrentProblem is { } problem
            ? HealthCheckResult.Degraded($"grain storage writes are failing; ingestion is retrying: {problem}")
            : HealthCheckResult.Healthy("grain storage writes succeed"));
}
