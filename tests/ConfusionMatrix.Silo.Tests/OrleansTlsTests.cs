using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using ConfusionMatrix.Abstractions;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Orleans.Configuration;
using Orleans.Hosting;

namespace ConfusionMatrix.Silo.Tests;

/// <summary>
/// ConfusionMatrix:Tls on a real silo process: its gateway speaks TLS, a client with the certificate reaches grains
/// through it, and a client without TLS does not get in.
/// </summary>
public sealed class OrleansTlsTests
{
    [Fact]
    public async Task Gateway_AnswersATlsClient_AndRefusesAPlainOne()
    {
        var directory = Directory.CreateTempSubdirectory("orleans-tls-");
        try
        {
            using var certificate = SelfSigned();
            var pfx = Path.Combine(directory.FullName, "silo.pfx");
            await File.WriteAllBytesAsync(pfx, certificate.Export(X509ContentType.Pfx, "pfx-password"));

            var ports = SiloProcess.FreePorts(3);
            using var silo = SiloProcess.Start(
                [
                    "--urls", $"http://127.0.0.1:{ports[0]}",
                    $"--ConfusionMatrix:Clustering:SiloPort={ports[1]}",
                    $"--ConfusionMatrix:Clustering:GatewayPort={ports[2]}",
                    "--ConfusionMatrix:Tls:Enabled=true",
                    $"--ConfusionMatrix:Tls:CertificatePath={pfx}",
                    "--ConfusionMatrix:Tls:CertificatePassword=pfx-password",
                    "--ConfusionMatrix:Tls:AllowAnyPeerCertificate=true",
                    "--Logging:LogLevel:Default=Warning",
                ]);
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{ports[0]}/") };
            var clock = Stopwatch.StartNew();
            while (true)
            {
                Assert.False(silo.HasExited, silo.OutputTail());
                Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), $"not ready in 60 s\n{silo.OutputTail()}");
                try
                {
                    if ((await http.GetAsync("health/ready")).IsSuccessStatusCode)
                    {
                        break;
                    }
                }
                catch (HttpRequestException)
                {
                    // Not listening yet.
                }

                await Task.Delay(250);
            }

            Assert.Equal(HttpStatusCode.OK, (await http.PostAsync("api/v1/models", new StringContent("""{"model":"tls","classes":["a","b"]}""", System.Text.Encoding.UTF8, "application/json"))).StatusCode);

            using (var secure = await ClientAsync(ports[2], certificate))
            {
                var catalog = await secure.Services.GetRequiredService<IClusterClient>().GetGrain<IModelRegistryGrain>("tls").GetCatalogAsync();
                Assert.Equal(new[] { "a", "b" }, catalog.Definition!.Classes.ToArray());
            }

            var plain = await Record.ExceptionAsync(async () =>
            {
                using var client = await ClientAsync(ports[2], null);
                await client.Services.GetRequiredService<IClusterClient>().GetGrain<IModelRegistryGrain>("tls").GetCatalogAsync();
            });
            Assert.NotNull(plain);
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    private static async Task<IHost> ClientAsync(int gatewayPort, X509Certificate2? certificate)
    {
        var host = new HostBuilder()
            .UseOrleansClient(client =>
            {
                client.UseLocalhostClustering(gatewayPort, "confusionmatrix", "confusionmatrix");
                client.Configure<ClientMessagingOptions>(o => o.ResponseTimeout = TimeSpan.FromSeconds(10));
                if (certificate is not null)
                {
                    client.UseTls(certificate, o => o.AllowAnyRemoteCertificate());
                }
            })
            .Build();
        try
        {
            await host.StartAsync().WaitAsync(TimeSpan.FromSeconds(30));
            return host;
        }
        catch
        {
            host.Dispose();
            throw;
        }
    }

    private static X509Certificate2 SelfSigned()
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest("CN=confusionmatrix-silo", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1"), new Oid("1.3.6.1.5.5.7.3.2")], false));
        using var created = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
        return X509CertificateLoader.LoadPkcs12(created.Export(X509ContentType.Pfx), null);
    }
}
