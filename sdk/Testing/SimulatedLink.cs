namespace Router.Sdk.Testing;

/// <summary>
/// One link between two simulated netmods: whether it is administratively up, silent or live
/// (both ends see a neighbour), the neighbour ids each end uses for the other while live, and
/// its two directions. Every member is guarded by the network's lock.
/// </summary>
internal sealed class SimulatedLink
{
    public SimulatedLink(SimulatedNetwork network, SimulatedNetmod a, SimulatedNetmod b, LinkProperties properties, int seed)
    {
        A = a;
        B = b;
        AToB = new LinkDirection(network, this, b, properties, new Random(seed));
        BToA = new LinkDirection(network, this, a, properties, new Random(unchecked((seed * 31) + 17)));
    }

    public SimulatedNetmod A { get; }

    public SimulatedNetmod B { get; }

    public LinkDirection AToB { get; }

    public LinkDirection BToA { get; }

    /// <summary>Set by <see cref="SimulatedNetwork.SetLinkUp"/>: the cable is plugged in.</summary>
    public bool AdministrativelyUp { get; set; } = true;

    /// <summary>Set by <see cref="SimulatedNetwork.SetLinkSilent"/>: everything sent is lost, without events.</summary>
    public bool Silent { get; set; }

    /// <summary>Both ends have a neighbour for this link: up, and both netmods started.</summary>
    public bool Live { get; set; }

    /// <summary>The id <see cref="A"/> uses for <see cref="B"/> while live.</summary>
    public NeighbourId IdAtA { get; set; }

    /// <summary>The id <see cref="B"/> uses for <see cref="A"/> while live.</summary>
    public NeighbourId IdAtB { get; set; }

    public SimulatedNetmod Other(SimulatedNetmod end) => end == A ? B : A;

    public LinkDirection From(SimulatedNetmod sender) => sender == A ? AToB : BToA;

    public NeighbourId IdAt(SimulatedNetmod end) => end == A ? IdAtA : IdAtB;
}
