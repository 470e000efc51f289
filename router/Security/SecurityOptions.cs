using Router.Sdk;

namespace Router.Security;

/// <summary>
/// Who may become a neighbour: anyone with the network secret, or only the listed addresses.
/// The router-wide policy comes from <c>Router:AcceptUnknownPeers</c> / <c>Router:AllowedPeers</c>;
/// a netmod section may override both for its links.
/// </summary>
internal sealed record PeerPolicy(bool AcceptUnknownPeers, IReadOnlySet<RouterAddress> AllowedPeers)
{
    public static PeerPolicy Open { get; } = new(true, new HashSet<RouterAddress>());

    public bool Allows(RouterAddress address) => AcceptUnknownPeers || AllowedPeers.Contains(address);
}

/// <summary>Link security settings (docs/security.md, docs/configuration.md).</summary>
internal sealed record SecurityOptions
{
    /// <summary>Shared secret of a closed network; null for an open one. Routers with different secrets cannot link.</summary>
    public string? NetworkSecret { get; init; }

    /// <summary>The router-wide peer policy.</summary>
    public PeerPolicy Peers { get; init; } = PeerPolicy.Open;

    /// <summary>Per-netmod overrides of <see cref="Peers"/>, by netmod name.</summary>
    public IReadOnlyDictionary<string, PeerPolicy> NetmodPeers { get; init; } = new Dictionary<string, PeerPolicy>(StringComparer.OrdinalIgnoreCase);

    /// <summary>A link handshake not finished this long after it began is abandoned (and retried later).</summary>
    public TimeSpan HandshakeTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Link-local control frames (hello, update, seqno request) accepted per link per second, on average.</summary>
    public int ControlFramesPerSecond { get; init; } = 500;

    public PeerPolicy PolicyFor(string netmod) => NetmodPeers.TryGetValue(netmod, out var policy) ? policy : Peers;
}
