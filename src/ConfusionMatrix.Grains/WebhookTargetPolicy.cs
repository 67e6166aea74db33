using System.Net;
using System.Net.Sockets;

namespace ConfusionMatrix.Grains;

/// <summary>Where rollout webhooks may go (<c>ConfusionMatrix:Webhooks</c>).</summary>
public sealed class WebhookOptions
{
    /// <summary>
    /// Host names (<c>hooks.example.com</c>, <c>*.example.com</c>), IP addresses and CIDR ranges. Empty: any host
    /// with a public address. Not empty: only these. Loopback, link-local and private addresses are refused unless
    /// an entry names the host or covers the address.
    /// </summary>
    public List<string> AllowedHosts { get; set; } = [];
}

/// <summary>Decides whether a webhook may connect to an address; checked on the resolved address at connect time.</summary>
public sealed class WebhookTargetPolicy
{
    private readonly (string? Host, string? Suffix, IPNetwork? Network)[] _rules;

    public WebhookTargetPolicy(IEnumerable<string> allowedHosts)
    {
        _rules = [.. allowedHosts.Select(h => ParseRule(h) ?? throw new ArgumentException($"'{h}' is not a host name, IP address or CIDR range."))];
    }

    /// <summary>A rule: exact host, <c>*.</c> suffix, or a network (an address is a /32 or /128); null when invalid.</summary>
    public static (string? Host, string? Suffix, IPNetwork? Network)? ParseRule(string rule)
    {
        rule = rule.Trim();
        if (rule.Length == 0)
        {
            return null;
        }

        if (IPNetwork.TryParse(rule, out var network))
        {
            return (null, null, network);
        }

        if (IPAddress.TryParse(rule, out var address))
        {
            return (null, null, new IPNetwork(address, address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128));
        }

        if (rule.StartsWith("*.", StringComparison.Ordinal) && Uri.CheckHostName(rule[2..]) == UriHostNameType.Dns)
        {
            return (null, rule[1..].ToLowerInvariant(), null);
        }

        return Uri.CheckHostName(rule) == UriHostNameType.Dns ? (rule.ToLowerInvariant(), null, null) : null;
    }

    /// <summary>Null when <paramref name="host"/> may be reached at <paramref name="address"/>; otherwise the drop reason.</summary>
    public string? Refusal(string host, IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        var name = host.TrimEnd('.').ToLowerInvariant();
        var explicitlyAllowed = _rules.Any(r =>
            (r.Host is not null && r.Host == name)
            || (r.Suffix is not null && name.EndsWith(r.Suffix, StringComparison.Ordinal))
            || (r.Network is { } n && n.Contains(address)));
        if (_rules.Length > 0 && !explicitlyAllowed)
        {
            return "host_not_allowed";
        }

        return !explicitlyAllowed && IsInternal(address) ? "private_address" : null;
    }

    /// <summary>Loopback, link-local, private, shared (CGNAT), unspecified and multicast addresses.</summary>
    public static bool IsInternal(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        if (IPAddress.IsLoopback(address) || address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any))
        {
            return true;
        }

        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            var b = address.GetAddressBytes();
            return b[0] == 0 || b[0] == 10 || b[0] == 127
                || (b[0] == 172 && (b[1] & 0xF0) == 16)
                || (b[0] == 192 && b[1] == 168)
                || (b[0] == 169 && b[1] == 254)
                || (b[0] == 100 && (b[1] & 0xC0) == 64)
                || b[0] >= 224;
        }

        var v6 = address.GetAddressBytes();
        return address.IsIPv6LinkLocal || address.IsIPv6SiteLocal || address.IsIPv6Multicast || (v6[0] & 0xFE) == 0xFC;
    }
}

/// <summary>A webhook connection refused by <see cref="WebhookTargetPolicy"/>; never retried.</summary>
public sealed class WebhookTargetRefusedException(string reason, string message) : Exception(message)
{
    public string Reason { get; } = reason;
}
