using System.Diagnostics;

namespace ConfusionMatrix.Silo.Tests;

/// <summary>The Orleans dashboard as an operator's browser renders it: Debian's Chromium, headless, against the real silo.</summary>
[Collection(SiloCollection.Name)]
public sealed class DashboardBrowserTests(SiloProcessFixture fixture)
{
    private const string Chromium = "/usr/bin/chromium";

    [Fact]
    public async Task Dashboard_RendersLiveClusterFigures_InHeadlessChromium()
    {
        Assert.True(File.Exists(Chromium), $"{Chromium} is missing: .ci/run installs Debian's chromium package (apt-get install chromium).");
        var profile = Directory.CreateTempSubdirectory("chromium-");
        try
        {
            var start = new ProcessStartInfo(Chromium)
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            foreach (var argument in new[]
            {
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                $"--user-data-dir={profile.FullName}", "--virtual-time-budget=8000", "--dump-dom",
                new Uri(fixture.BaseAddress, "dashboard/").ToString(),
            })
            {
                start.ArgumentList.Add(argument);
            }

            using var browser = Process.Start(start)!;
            var dom = browser.StandardOutput.ReadToEndAsync();
            _ = browser.StandardError.ReadToEndAsync();
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(90));
            try
            {
                await browser.WaitForExitAsync(deadline.Token);
            }
            finally
            {
                if (!browser.HasExited)
                {
                    browser.Kill(entireProcessTree: true);
                }
            }

            var html = await dom;

            // These are drawn by the dashboard's script from the silo's live statistics, not served as static HTML.
            Assert.Contains("Total Activations", html);
            Assert.Contains("Active Silos", html);
            Assert.Contains("Orleans Dashboard", html);
        }
        finally
        {
            profile.Delete(recursive: true);
        }
    }
}
