using Router.Sdk;

namespace Router.Netmods.Inet;

/// <summary>How one connection attempt ended, as the dialer needs to know it.</summary>
internal enum ConnectionOutcome
{
    /// <summary>The handshake succeeded and the connection ran until it ended.</summary>
    Linked,

    /// <summary>Connecting or the handshake failed.</summary>
    Failed,

    /// <summary>The TCP connect to one address failed (the dialer tries the next one).</summary>
    ConnectFailed,

    /// <summary>The peer is this router.</summary>
    Self,

    /// <summary>The netmod is stopping.</summary>
    Stopping,
}

/// <summary>The result of running one connection.</summary>
/// <param name="Outcome">How it ended.</param>
/// <param name="Address">The peer's router address, when the handshake got that far.</param>
/// <param name="Uptime">How long the connection was registered.</param>
/// <param name="Detail">Why it failed or closed, in words.</param>
internal readonly record struct ConnectionResult(ConnectionOutcome Outcome, RouterAddress Address, TimeSpan Uptime, string Detail)
{
    public static ConnectionResult Failed(string detail) => new(ConnectionOutcome.Failed, RouterAddress.None, TimeSpan.Zero, detail);
}
