using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Net;

namespace Router.Sdk;

/// <summary>
/// A peer or listen address written <c>host:port</c>, <c>[v6]:port</c> or <c>a.b.c.d:port</c>,
/// where host may be a DNS name. The common syntax of IP-based netmods.
/// </summary>
/// <param name="Host">The host: a DNS name, or an IP literal without brackets.</param>
/// <param name="Port">The port, 1–65535 (0 is allowed for listen addresses: any free port).</param>
public sealed record HostEndpoint(string Host, int Port)
{
    /// <summary>The host as an IP address, or null when it is a DNS name.</summary>
    public IPAddress? Address => IPAddress.TryParse(Host, out var ip) ? ip : null;

    /// <summary>
    /// Parses <paramref name="text"/>. On failure <paramref name="error"/> says what is wrong
    /// in words meant for a person.
    /// </summary>
    /// <param name="text">The text to parse.</param>
    /// <param name="allowPortZero">Whether port 0 is valid (listen addresses).</param>
    /// <param name="endpoint">The parsed endpoint.</param>
    /// <param name="error">Why parsing failed.</param>
    public static bool TryParse(
        string? text,
        bool allowPortZero,
        [NotNullWhen(true)] out HostEndpoint? endpoint,
        [NotNullWhen(false)] out string? error)
    {
        endpoint = null;
        if (string.IsNullOrWhiteSpace(text))
        {
            error = "is empty; expected host:port or [v6]:port";
            return false;
        }

        text = text.Trim();
        string host;
        string portText;
        if (text.StartsWith('['))
        {
            var close = text.IndexOf(']', StringComparison.Ordinal);
            if (close < 0 || close + 1 >= text.Length || text[close + 1] != ':')
            {
                error = $"'{text}' is not [v6]:port";
                return false;
            }

            host = text[1..close];
            portText = text[(close + 2)..];
            if (!IPAddress.TryParse(host, out var ip) || ip.AddressFamily != System.Net.Sockets.AddressFamily.InterNetworkV6)
            {
                error = $"'{host}' in '{text}' is not an IPv6 address";
                return false;
            }
        }
        else
        {
            var colon = text.LastIndexOf(':');
            if (colon <= 0)
            {
                error = $"'{text}' has no port; expected host:port or [v6]:port";
                return false;
            }

            host = text[..colon];
            portText = text[(colon + 1)..];
            if (host.Contains(':', StringComparison.Ordinal))
            {
                error = $"'{text}': write IPv6 addresses in brackets, as [v6]:port";
                return false;
            }

            if (!IsValidHostName(host))
            {
                error = $"'{host}' in '{text}' is not a host name or IPv4 address";
                return false;
            }
        }

        if (!int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port > 65535 || (port == 0 && !allowPortZero))
        {
            error = $"'{portText}' in '{text}' is not a port (1-65535)";
            return false;
        }

        endpoint = new HostEndpoint(host, port);
        error = null;
        return true;
    }

    /// <summary>
    /// Parses every peer in <paramref name="peers"/> (ports 1–65535), all or nothing: the
    /// shared check behind <see cref="Netmod.AddPeersAsync"/> for netmods that use this syntax.
    /// </summary>
    /// <param name="peers">The peers as given to <see cref="Netmod.AddPeersAsync"/>.</param>
    /// <param name="netmodName">The netmod's name, for the message.</param>
    /// <returns>The endpoints, in the order given (repeats included).</returns>
    /// <exception cref="ArgumentException">Some peers are malformed; the message lists each one
    /// by index (<c>peers[1]: …</c>), so the caller can add none of them.</exception>
    public static IReadOnlyList<HostEndpoint> ParsePeers(IReadOnlyList<string> peers, string netmodName)
    {
        ArgumentNullException.ThrowIfNull(peers);
        var errors = new List<string>();
        var parsed = new List<HostEndpoint>(peers.Count);
        for (var i = 0; i < peers.Count; i++)
        {
            if (TryParse(peers[i], allowPortZero: false, out var endpoint, out var error))
            {
                parsed.Add(endpoint);
            }
            else
            {
                errors.Add($"peers[{i}]: {error}");
            }
        }

        if (errors.Count > 0)
        {
            throw new ArgumentException($"{errors.Count} {netmodName} peer(s) are malformed, so none were added: {string.Join("; ", errors)}.", nameof(peers));
        }

        return parsed;
    }

    private static bool IsValidHostName(string host) =>
        IPAddress.TryParse(host, out _) || Uri.CheckHostName(host) == UriHostNameType.Dns;

    /// <summary>The endpoint to bind or connect to, for a host that is an IP literal (listen addresses).</summary>
    /// <exception cref="InvalidOperationException">The host is a DNS name.</exception>
    public IPEndPoint ToIPEndPoint() =>
        new(Address ?? throw new InvalidOperationException($"'{this}' is not an IP address."), Port);

    /// <summary>The text form: <c>host:port</c>, with brackets around IPv6 literals.</summary>
    public override string ToString() =>
        Address is { AddressFamily: System.Net.Sockets.AddressFamily.InterNetworkV6 }
            ? $"[{Host}]:{Port.ToString(CultureInfo.InvariantCulture)}"
            : $"{Host}:{Port.ToString(CultureInfo.InvariantCulture)}";
}
