using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace ConfusionMatrix.Bench;

/// <summary>What the parts that run silo processes share: free loopback ports and waiting for readiness.</summary>
internal static class SiloProcesses
{
    /// <summary>Distinct free loopback TCP ports, found by binding port 0; all listeners stay open until all are chosen.</summary>
    public static int[] FreePorts(int count)
    {
        var listeners = Enumerable.Range(0, count).Select(_ => new TcpListener(IPAddress.Loopback, 0)).ToList();
        listeners.ForEach(l => l.Start());
        var ports = listeners.Select(l => ((IPEndPoint)l.LocalEndpoint).Port).ToArray();
        listeners.ForEach(l => l.Stop());
        return ports;
    }

    /// <summary>Polls <c>/health/ready</c> for up to 90 s; throws if the process exits or the deadline passes.</summary>
    public static async Task WaitReadyAsync(HttpClient http, Process process)
    {
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(90);
        while (DateTime.UtcNow < until && !process.HasExited)
        {
            try
            {
                using var response = await http.GetAsync("health/ready");
                if (response.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }

            await Task.Delay(200);
        }

        throw new InvalidOperationException($"silo at {http.BaseAddress} not ready (exited: {process.HasExited})");
    }
}
