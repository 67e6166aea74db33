namespace ConfusionMatrix.Silo.Tests;

/// <summary>A bad configuration stops the host at once with exit code 2 and one line naming the key.</summary>
public sealed class ConfigurationValidationTests
{
    [Theory]
    [InlineData("--ConfusionMatrix:Storage:Provider=Foo", "ConfusionMatrix:Storage:Provider")]
    [InlineData("--ConfusionMatrix:Streams:QueueCount=0", "ConfusionMatrix:Streams:QueueCount")]
    [InlineData("--ConfusionMatrix:Api:MaxRequestBytes=12", "ConfusionMatrix:Api:MaxRequestBytes")]
    public async Task Bad_value_exits_with_code_2_naming_the_key(string argument, string key)
    {
        var ports = SiloProcess.FreePorts(3);
        using var silo = SiloProcess.Start(
        [
            "--urls", $"http://127.0.0.1:{ports[0]}",
            $"--ConfusionMatrix:Clustering:SiloPort={ports[1]}",
            $"--ConfusionMatrix:Clustering:GatewayPort={ports[2]}",
            argument,
        ]);

        Assert.True(await silo.WaitForExitAsync(TimeSpan.FromSeconds(60)), $"The silo with {argument} was still running after 60 s.\n{silo.OutputTail()}");
        Assert.True(silo.ExitCode == 2, $"exit code {silo.ExitCode}\n{silo.OutputTail()}");
        var lines = silo.StandardError.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var line = Assert.Single(lines);
        Assert.StartsWith("Configuration error: ", line, StringComparison.Ordinal);
        Assert.Contains(key, line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Equal_silo_and_gateway_ports_exit_with_code_2()
    {
        var ports = SiloProcess.FreePorts(2);
        using var silo = SiloProcess.Start(
        [
            "--urls", $"http://127.0.0.1:{ports[0]}",
            $"--ConfusionMatrix:Clustering:SiloPort={ports[1]}",
            $"--ConfusionMatrix:Clustering:GatewayPort={ports[1]}",
        ]);

        Assert.True(await silo.WaitForExitAsync(TimeSpan.FromSeconds(60)), $"still running after 60 s.\n{silo.OutputTail()}");
        Assert.True(silo.ExitCode == 2, $"exit code {silo.ExitCode}\n{silo.OutputTail()}");
        Assert.Contains("ConfusionMatrix:Clustering:GatewayPort must differ", silo.StandardError, StringComparison.Ordinal);
    }
}
