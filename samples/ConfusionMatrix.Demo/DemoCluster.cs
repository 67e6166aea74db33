namespace ConfusionMatrix.Demo;

internal static class DemoCluster
{
    /// <summary>Waits until the cluster answers; the demos start with the host, before the silo is up.</summary>
    public static async Task WaitUntilAvailableAsync(IClusterClient client, CancellationToken cancellationToken)
    {
        while (true)
        {
            try
            {
                await client.GetGrain<IManagementGrain>(0).GetHosts(onlyActive: true);
                return;
            }
            catch (Exception) when (!cancellationToken.IsCancellationRequested)
            {
                await Task.Delay(500, cancellationToken);
            }
        }
    }
}
