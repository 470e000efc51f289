using Microsoft.Extensions.Logging.Abstractions;
using Router.Hosting;
using Router.Identity;
using Router.Plugins;
using Router.Routing;
using Router.Sdk;
using Router.Security;
using Router.Security.Links;
using Router.Switching;

namespace Router.Benchmarks.Switching;

/// <summary>
/// A <see cref="Switch"/> wired as the router wires it (as in the switch tests), with two
/// <see cref="SinkNetmod"/>s: frames come "in" from one neighbour and every route points
/// "out" to a neighbour of the other, so forwarding never hits the would-return-to-sender check.
/// </summary>
internal sealed class SwitchFixture : IDisposable
{
    public const int MaxFrameBytes = 65536;
    public const int MaxMessageBytes = 1 << 20;

    public static readonly NeighbourId From = new(1);

    private readonly RouterIdentity _identity = RouterIdentity.Create();

    public SwitchFixture(int routeCount, int seed = 42)
    {
        Links = new LinkTable(LinkSecurityCounters, TimeProvider.System);
        Local = _identity.Address;
        Inbox = new Inbox(100);
        // End-to-end sessions with no way to send handshakes: frames here are not sealed, so
        // messages delivered locally are dropped after reassembly (counted as unknownSession).
        var sessions = new Router.Security.Sessions.SessionService(_identity, new Router.Security.Sessions.SessionOptions(), new Router.Security.Sessions.SessionCounters(), TimeProvider.System,
            NullLogger<Router.Security.Sessions.SessionService>.Instance, (_, _, _, _) => ValueTask.FromResult(OriginateResult.NoRoute));
        Delivery = new LocalDelivery(Inbox, sessions, MaxMessageBytes, MaxMessageBytes, TimeSpan.FromSeconds(30), TimeProvider.System, NullLogger<LocalDelivery>.Instance);
        var routing = new RoutingService(_identity, new RoutingOptions(), Routes, new PrefixTable(_identity.Address, NullLogger<PrefixTable>.Instance), Links, TimeProvider.System, NullLogger<RoutingService>.Instance);
        var sender = new MessageSender(Local, Routes, Delivery, MaxMessageBytes, 64);
        Switch = new Switch(Local, Routes, Delivery, routing, new EchoService(Local, sender, TimeProvider.System), new FloodFilter(65_536), new Router.Hosting.NetmodSet(), MaxMessageBytes, new SwitchCounters(), Links, new LinkGuard(_identity, new SecurityOptions(), Links, routing, LinkSecurityCounters, TimeProvider.System, NullLogger<LinkGuard>.Instance));

        In = new SinkNetmod("in", MaxFrameBytes);
        Out = new SinkNetmod("out", MaxFrameBytes);
        InInstance = Instance(In);
        OutInstance = Instance(Out);

        var random = new Random(seed);
        var bytes = new byte[RouterAddress.Length];
        Destinations = new RouterAddress[routeCount];
        for (var i = 0; i < routeCount; i++)
        {
            random.NextBytes(bytes);
            Destinations[i] = RouterAddress.Read(bytes);
        }

        Routes.Publish(Destinations.Select((d, i) =>
            new KeyValuePair<RouterAddress, NextHop>(d, new NextHop(OutInstance, new NeighbourId(i + 2), d))));
        Source = Destinations[0];

        // The frames come in over an authenticated link, as they do in the router.
        var key = System.Security.Cryptography.RandomNumberGenerator.GetBytes(32);
        Links.Authenticate(InInstance, From, Source, new LinkKeys(key, key));
    }

    public LinkSecurityCounters LinkSecurityCounters { get; } = new();

    public LinkTable Links { get; }

    public RouterAddress Local { get; }

    /// <summary>The address frames claim to come from (any router; the switch does not check it).</summary>
    public RouterAddress Source { get; }

    public RouterAddress[] Destinations { get; }

    public RouteTable Routes { get; } = new();

    public Inbox Inbox { get; }

    public LocalDelivery Delivery { get; }

    public Switch Switch { get; }

    public SinkNetmod In { get; }

    public SinkNetmod Out { get; }

    public NetmodInstance InInstance { get; }

    public NetmodInstance OutInstance { get; }

    /// <summary>The 80 header bytes of a single-slice message frame of <paramref name="frameBytes"/> bytes in all.</summary>
    public byte[] Header(RouterAddress destination, int frameBytes, uint messageId)
    {
        var payload = (uint)(frameBytes - FrameHeader.Size);
        var header = new byte[FrameHeader.Size];
        new FrameHeader(FrameKind.Message, 64, destination, Source, messageId, payload, 0).Write(header);
        return header;
    }

    /// <summary>
    /// Switches one frame as a netmod would hand it over: a pooled buffer with the header
    /// written at its start (the payload bytes are whatever the pooled buffer holds; the switch
    /// does not read them when forwarding). The switch returns the buffer to the pool.
    /// </summary>
    public void Process(byte[] header, int frameBytes)
    {
        var buffer = FrameBuffers.Rent(frameBytes);
        header.CopyTo(buffer, 0);
        var pending = Switch.ProcessAsync(InInstance, new InboundFrame(From, buffer, frameBytes), CancellationToken.None);
        if (pending.IsCompletedSuccessfully)
        {
            pending.GetAwaiter().GetResult();
        }
        else
        {
            // The sink never applies backpressure; waiting here would be a bug in the benchmark.
            pending.AsTask().GetAwaiter().GetResult();
            throw new InvalidOperationException("ProcessAsync did not complete synchronously.");
        }
    }

    /// <summary>Throws unless every frame so far was handled the expected way and none was dropped.</summary>
    public void Verify(long forwarded, long delivered)
    {
        var counters = Switch.Counters;
        var drops = counters.DropSnapshot().Where(d => d.Value > 0).ToList();
        if (drops.Count > 0 || counters.Forwarded != forwarded || counters.DeliveredLocally != delivered || Out.Sent != forwarded)
        {
            throw new InvalidOperationException(
                $"switch counters off: forwarded {counters.Forwarded}/{forwarded} (sink saw {Out.Sent}), delivered {counters.DeliveredLocally}/{delivered}, drops [{string.Join(", ", drops)}]");
        }
    }

    private static NetmodInstance Instance(Netmod netmod) =>
        new(new NetmodPlugin(netmod.Capabilities.Name, new NoFactory(netmod.Capabilities.Name), "memory", new Version(1, 0), SdkVersion.Current, null), netmod);

    public void Dispose()
    {
        Delivery.Dispose();
        _identity.Dispose();
    }

    private sealed class NoFactory(string name) : INetmodFactory
    {
        public string Name => name;

        public IEnumerable<string> Validate(Microsoft.Extensions.Configuration.IConfiguration configuration) => [];

        public Netmod Create(NetmodContext context) => throw new NotSupportedException();
    }
}
