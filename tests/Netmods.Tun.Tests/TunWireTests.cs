using System.Net;
using Router.Sdk;
using Xunit.Abstractions;

namespace Router.Netmods.Tun.Tests;

/// <summary>
/// Two namespaces, a tun netmod in each, and the test itself as the wire between them: every
/// frame one netmod reads is given to the other's SendAsync, as the router would after carrying
/// it across the mesh. TCP transfers between the namespaces then exercise real kernel packets
/// on both paths: GSO super-packets and checksum-partial packets out of a device with offloads,
/// written whole into a device with offloads or segmented and completed in software for one
/// without. The bytes are checked end to end with SHA-256. Needs root; skipped otherwise.
/// </summary>
public sealed class TunWireTests(ITestOutputHelper output)
{
    private const int TransferBytes = 20 * 1024 * 1024;
    private const int Mtu = 1280;
    private static readonly TimeSpan TransferTimeout = TimeSpan.FromSeconds(60);

    [RootTheory]
    [InlineData(true, false)]
    [InlineData(true, true)]
    public async Task Tcp_BetweenTwoNamespacesWiredThroughTheNetmods_ArrivesIntactBothWays(bool offloadA, bool offloadB)
    {
        await using var nsA = await NetworkNamespace.CreateAsync();
        await using var nsB = await NetworkNamespace.CreateAsync();
        await using var a = await TunNode.StartAsync(nsA, TunDeviceTests.Settings("mesha", offloadA, ["10.77.1.1/24"], Mtu));
        await using var b = await TunNode.StartAsync(nsB, TunDeviceTests.Settings("meshb", offloadB, ["10.77.2.1/24"], Mtu));
        await a.Netmod.SetMeshPrefixesAsync([IPNetwork.Parse("10.77.2.0/24")], CancellationToken.None);
        await b.Netmod.SetMeshPrefixesAsync([IPNetwork.Parse("10.77.1.0/24")], CancellationToken.None);
        await using var wire = Wire.Connect(a.Netmod, b.Netmod);

        // A to B over IPv4 (a mesh prefix route) and over IPv6 (the overlay /16), B to A over IPv4.
        await TransferAsync(nsA, nsB, "10.77.2.1");
        await TransferAsync(nsA, nsB, b.Netmod.Overlay.ToString());
        await TransferAsync(nsB, nsA, "10.77.1.1");

        var (countersA, countersB) = (a.Netmod.Counters, b.Netmod.Counters);
        var state = $"A: {countersA}\nB: {countersB}\nwire: {wire}";
        output.WriteLine(state);

        // A's kernel handed over TCP super-packets larger than the MTU.
        Assert.True(countersA.GsoPacketsRead > 0, state);
        Assert.True(wire.AToB.LargestFrame > VirtioNetHeader.Size + Mtu, state);
        if (offloadB)
        {
            // B took them whole, and sent its own back.
            Assert.Equal(0, countersB.SegmentedInSoftware);
            Assert.True(countersB.GsoPacketsRead > 0, state);
            Assert.True(wire.BToA.LargestFrame > VirtioNetHeader.Size + Mtu, state);
        }
        else
        {
            // B cut them up and finished A's checksums; its own packets were plain and small.
            Assert.True(countersB.SegmentedInSoftware > 0, state);
            Assert.True(countersB.ChecksumsCompleted > 0, state);
            Assert.Equal(0, countersB.GsoPacketsRead);
            Assert.True(wire.BToA.LargestFrame <= VirtioNetHeader.Size + Mtu, state);
        }

        foreach (var counters in new[] { countersA, countersB })
        {
            Assert.True(counters.MalformedDropped == 0 && counters.WriteErrors == 0 && counters.ReadErrors == 0, state);
        }

        Assert.Equal(0, wire.AToB.NotSent + wire.BToA.NotSent);
    }

    /// <summary>Sends <see cref="TransferBytes"/> random bytes over TCP from a client in <paramref name="from"/> to a server in <paramref name="to"/> at <paramref name="host"/>; both print SHA-256, which must agree.</summary>
    private static async Task TransferAsync(NetworkNamespace from, NetworkNamespace to, string host)
    {
        const string Port = "5001";
        await using var server = to.Start("python3", "-c", Script, "server", host, Port);
        await server.WaitForLineAsync("LISTENING", TransferTimeout);
        await using var client = from.Start("python3", "-c", Script, "client", host, Port, TransferBytes.ToString(System.Globalization.CultureInfo.InvariantCulture));

        var sent = await client.WaitForLineAsync("SENT ", TransferTimeout);
        var received = await server.WaitForLineAsync("RECEIVED ", TransferTimeout);

        Assert.Equal(sent["SENT ".Length..], received["RECEIVED ".Length..]);
        Assert.StartsWith($"SENT {TransferBytes} ", sent, StringComparison.Ordinal);
        Assert.Equal(0, await client.WaitForExitAsync(TransferTimeout));
        Assert.Equal(0, await server.WaitForExitAsync(TransferTimeout));
    }

    // server HOST PORT: accept one connection, hash everything until EOF, answer and print "RECEIVED n sha256".
    // client HOST PORT N: send N random bytes, print "SENT n sha256", wait for the server's answer.
    private const string Script = """
            import hashlib, os, socket, sys
            mode, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            if mode == "server":
                s = socket.socket(family)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind((host, port))
                s.listen(1)
                s.settimeout(30)
                print("LISTENING", flush=True)
                c, _ = s.accept()
                c.settimeout(30)
                h, n = hashlib.sha256(), 0
                while True:
                    b = c.recv(1 << 20)
                    if not b:
                        break
                    h.update(b)
                    n += len(b)
                c.sendall(f"{n} {h.hexdigest()}\n".encode())
                c.close()
                print("RECEIVED", n, h.hexdigest(), flush=True)
            else:
                total = int(sys.argv[4])
                c = socket.create_connection((host, port), timeout=30)
                h, sent = hashlib.sha256(), 0
                while sent < total:
                    chunk = os.urandom(min(1 << 20, total - sent))
                    c.sendall(chunk)
                    h.update(chunk)
                    sent += len(chunk)
                c.shutdown(socket.SHUT_WR)
                print("SENT", sent, h.hexdigest(), flush=True)
                reply = b""
                while not reply.endswith(b"\n"):
                    b = c.recv(4096)
                    if not b:
                        break
                    reply += b
                print("ACKED", reply.decode().strip(), flush=True)
            """;

    /// <summary>The test as the mesh between two netmods: forwards frames both ways until disposed.</summary>
    private sealed class Wire : IAsyncDisposable
    {
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _loops;

        private Wire(TunInterface a, TunInterface b)
        {
            _loops = Task.WhenAll(
                Task.Run(() => ForwardAsync(a, b, AToB, _stop.Token)),
                Task.Run(() => ForwardAsync(b, a, BToA, _stop.Token)));
        }

        public Direction AToB { get; } = new();

        public Direction BToA { get; } = new();

        public static Wire Connect(TunInterface a, TunInterface b) => new(a, b);

        public override string ToString() => $"A→B {AToB}; B→A {BToA}";

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            await _loops.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            _stop.Dispose();
        }

        private static async Task ForwardAsync(TunInterface from, TunInterface to, Direction direction, CancellationToken cancellationToken)
        {
            await foreach (var frame in from.Incoming.ReadAllAsync(cancellationToken))
            {
                try
                {
                    direction.Frames++;
                    direction.LargestFrame = Math.Max(direction.LargestFrame, frame.Length);
                    if (await to.SendAsync(new NeighbourId(0), frame.Memory, cancellationToken) != SendResult.Sent)
                    {
                        direction.NotSent++;
                    }
                }
                finally
                {
                    frame.Release();
                }
            }
        }

        /// <summary>What went one way. Written by one loop, read after it is done.</summary>
        public sealed class Direction
        {
            public long Frames { get; set; }

            public int LargestFrame { get; set; }

            public long NotSent { get; set; }

            public override string ToString() => $"{Frames} frames, largest {LargestFrame} bytes, {NotSent} not sent";
        }
    }
}
