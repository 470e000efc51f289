namespace Router.Configuration;

/// <summary>
/// The validated <c>Router</c> section, with every path already absolute. Immutable: a
/// reload produces a new instance. Keys and defaults are documented in docs/configuration.md.
/// </summary>
internal sealed record RouterOptions
{
    public const string SectionName = "Router";

    public required string KeyFile { get; init; }

    public required string ApiSocket { get; init; }

    public required string PluginsDirectory { get; init; }

    /// <summary>Largest message accepted from the API or reassembled from the mesh.</summary>
    public int MaxMessageBytes { get; init; } = 16 * 1024 * 1024;

    /// <summary>Memory for all partly received messages together.</summary>
    public long ReassemblyBufferBytes { get; init; } = 256L * 1024 * 1024;

    /// <summary>A message not complete this long after its first slice is dropped.</summary>
    public TimeSpan ReassemblyTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Hops a frame may take before it is dropped.</summary>
    public byte HopLimit { get; init; } = 64;

    /// <summary>Messages kept for local delivery while no listener is connected.</summary>
    public int InboxMessages { get; init; } = 1024;

    /// <summary>Memory for the partly received messages of one source, so one source cannot take the whole reassembly buffer.</summary>
    public long ReassemblyBytesPerSource { get; init; } = 32L * 1024 * 1024;

    /// <summary>End-to-end sessions: key exchange timeout, re-keying, limits (docs/security.md).</summary>
    public Security.Sessions.SessionOptions Sessions { get; init; } = new();

    /// <summary>Link security: network secret, peer policy, handshake and control limits (docs/security.md).</summary>
    public Security.SecurityOptions Security { get; init; } = new();

    /// <summary>Routing timers and limits (docs/routing.md).</summary>
    public Routing.RoutingOptions Routing { get; init; } = new();

    /// <summary>The read-only web dashboard: whether it runs and where it listens.</summary>
    public Dashboard.DashboardOptions Dashboard { get; init; } = new();

    /// <summary>How log lines are written: text (the default) or JSON, one object per line.</summary>
    public Logging.LogFormat LogFormat { get; init; } = Logging.LogFormat.Text;
}
