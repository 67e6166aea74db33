using System.Net;
using ConfusionMatrix.Grains;

namespace ConfusionMatrix.Silo.Tests;

/// <summary>Which addresses webhooks may reach, decided on the resolved address.</summary>
public sealed class WebhookTargetTests
{
    [Theory]
    [InlineData("hooks.example.com", "93.184.216.34", null)]
    [InlineData("localhost", "127.0.0.1", "private_address")]
    [InlineData("evil.example.com", "10.0.0.7", "private_address")]
    [InlineData("evil.example.com", "172.20.1.1", "private_address")]
    [InlineData("evil.example.com", "192.168.1.1", "private_address")]
    [InlineData("metadata", "169.254.169.254", "private_address")]
    [InlineData("v6", "::1", "private_address")]
    [InlineData("v6", "fe80::1", "private_address")]
    [InlineData("v6", "fd00::1", "private_address")]
    [InlineData("mapped", "::ffff:127.0.0.1", "private_address")]
    [InlineData("public", "172.32.0.1", null)]
    public void WithoutAList_OnlyPublicAddressesAreReachable(string host, string address, string? refusal) =>
        Assert.Equal(refusal, new WebhookTargetPolicy([]).Refusal(host, IPAddress.Parse(address)));

    [Theory]
    [InlineData("hooks.example.com", "93.184.216.34", null)]
    [InlineData("a.internal.example", "10.0.0.7", null)]
    [InlineData("receiver", "10.20.0.9", null)]
    [InlineData("receiver", "10.21.0.9", "host_not_allowed")]
    [InlineData("other.example.com", "93.184.216.34", "host_not_allowed")]
    [InlineData("x.example.org", "127.0.0.1", "host_not_allowed")]
    public void WithAList_OnlyListedHostsAndRangesAreReachable(string host, string address, string? refusal) =>
        Assert.Equal(refusal, new WebhookTargetPolicy(["hooks.example.com", "*.internal.example", "10.20.0.0/16"]).Refusal(host, IPAddress.Parse(address)));

    [Fact]
    public void Signature_IsTheHmacOfTheBodyWithTheSecret()
    {
        var body = "{\"model\":\"m\"}"u8.ToArray();
        var signature = WebhookSender.Sign(body, "secret-0123456789abcdef");
        var expected = "sha256=" + Convert.ToHexStringLower(System.Security.Cryptography.HMACSHA256.HashData("secret-0123456789abcdef"u8, body));
        Assert.Equal(expected, signature);
        Assert.NotEqual(signature, WebhookSender.Sign(body, "another-secret-0123456"));
        Assert.NotEqual(signature, WebhookSender.Sign("{\"model\":\"n\"}"u8, "secret-0123456789abcdef"));
    }

    [Theory]
    [InlineData("hooks.example.com", true)]
    [InlineData("*.example.com", true)]
    [InlineData("10.0.0.0/8", true)]
    [InlineData("fd00::/8", true)]
    [InlineData("10.0.0.1", true)]
    [InlineData("http://x", false)]
    [InlineData("", false)]
    public void Rules_ParseOrAreRefused(string rule, bool valid) =>
        Assert.Equal(valid, WebhookTargetPolicy.ParseRule(rule) is not null);
}
