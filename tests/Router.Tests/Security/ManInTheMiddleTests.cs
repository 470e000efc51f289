using System.Collections.Concurrent;
using System.Security.Cryptography;
using Router.Hosting;
using Router.Identity;
using Router.Routing;
using Router.Sdk;
using Router.Sdk.Testing;
using Router.Security.Links;
using Router.Switching;

namespace Router.Tests.Security;

/// <summary>
/// Two whole router cores whose link runs through an attacker (<see cref="MitmNetmod"/>) that
/// flips bits, truncates, replays, reorders, drops and injects forged frames — messages
/// claiming to be from the neighbour, routes to addresses nobody holds, handshakes from
/// impostors. Nothing forged or altered may be delivered, no route to a spoofed address may be
/// installed, and once the attacker stops, honest traffic flows.
/// </summary>
[Collection(CpuHeavyCollection.Name)]
public sealed class ManInTheMiddleTests : IAsyncLifetime
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(20);
    private readonly SimulatedNetwork _network = new(TimeProvider.System, seed: 7);
    private readonly SecureMesh _mesh = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _mesh.DisposeAsync();

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public async Task AttackerOnTheLink_ForgesNothing_SpoofsNoRoute_AndTrafficFlowsWhenItStops(int seed)
    {
        MitmNetmod? mitm = null;
        SimulatedNetmod? simA = null, simB = null;
        var a = await _mesh.StartAsync(x =>
        {
            simA = _network.CreateNetmod("sim", x, maxFrameSize: 1500);
            return mitm = new MitmNetmod(simA, seed);
        });
        var b = await _mesh.StartAsync(x => simB = _network.CreateNetmod("sim", x, maxFrameSize: 1500));
        var (addressA, addressB) = (a.Identity.Address, b.Identity.Address);

        var spoofed = new ConcurrentBag<RouterAddress>();
        using var impostor = RouterIdentity.Create();
        mitm!.Forge = random => Forge(random, addressA, addressB, impostor, spoofed);
        mitm.Active = true;
        _network.Link(simA!, simB!, new LinkProperties { Latency = TimeSpan.FromMilliseconds(1) });

        // Under attack from the first frame (the handshake too): both sides keep sending.
        var sentByB = new ConcurrentDictionary<string, bool>();
        var sentByA = new ConcurrentDictionary<string, bool>();
        using var listening = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        var inboxA = a.Get<Inbox>().Listen(listening.Token);
        var inboxB = b.Get<Inbox>().Listen(listening.Token);
        // At least 4 s, and on until the attacker has flipped, injected and replayed at least once
        // (while no link is authenticated only handshake frames cross, a few a second), at most 30 s.
        var attackFrom = DateTime.UtcNow;
        bool EveryAttackTried() => mitm.Counters.Flipped > 0 && mitm.Counters.Injected > 0 && mitm.Counters.Replayed > 0;
        while (DateTime.UtcNow < attackFrom + TimeSpan.FromSeconds(4) || (!EveryAttackTried() && DateTime.UtcNow < attackFrom + TimeSpan.FromSeconds(30)))
        {
            await SendAsync(b, addressA, sentByB);
            await SendAsync(a, addressB, sentByA);
            Assert.DoesNotContain(a.Get<RouteTable>().Snapshot().Keys, spoofed.Contains);
            Assert.DoesNotContain(b.Get<RouteTable>().Snapshot().Keys, spoofed.Contains);
            await Task.Delay(10);
        }

        mitm.Active = false;
        var attacks = mitm.Counters.ToString();
        Assert.True(EveryAttackTried(), attacks);

        // The attacker is gone: routes form (or stay) and messages cross both ways.
        await SecureMesh.WaitForAsync(() => SecureMesh.HasRoute(a, addressB) && SecureMesh.HasRoute(b, addressA), Limit, () => $"routes after the attack ({attacks}); logs:\n{_mesh.Logs.Text}");
        var finalFromB = $"after the attack {seed}";
        var finalFromA = $"after the attack, back {seed}";
        await SendUntilSentAsync(b, addressA, finalFromB, sentByB);
        await SendUntilSentAsync(a, addressB, finalFromA, sentByA);

        // Everything delivered was sent by the honest router, once; the last messages arrived.
        await CheckInboxAsync(inboxA, addressB, sentByB, finalFromB, listening.Token);
        await CheckInboxAsync(inboxB, addressA, sentByA, finalFromA, listening.Token);
        Assert.DoesNotContain(a.Get<RouteTable>().Snapshot().Keys, spoofed.Contains);

        // The attack was seen and counted.
        var links = a.Get<LinkSecurityCounters>();
        var drops = a.Get<SwitchCounters>();
        Assert.True(drops.Drops(DropReason.LinkAuthentication) + links.ControlBadTag + links.ControlReplayed > 0, "no tampering was detected");
    }

    private int _counter;

    private async Task SendAsync(RouterNode from, RouterAddress to, ConcurrentDictionary<string, bool> sent)
    {
        var text = $"message {Interlocked.Increment(ref _counter)} {Convert.ToHexString(RandomNumberGenerator.GetBytes(8))}";
        sent[text] = true;
        await SendOnceAsync(from, to, text);
    }

    private static async Task SendOnceAsync(RouterNode from, RouterAddress to, string text)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        try
        {
            await from.Get<MessageSender>().SendAsync(to, System.Text.Encoding.UTF8.GetBytes(text), timeout.Token);
        }
        catch (OperationCanceledException)
        {
            // Under attack a send may not get through; only what arrives is checked.
        }
    }

    private static async Task SendUntilSentAsync(RouterNode from, RouterAddress to, string text, ConcurrentDictionary<string, bool> sent)
    {
        sent[text] = true;
        var deadline = DateTime.UtcNow + Limit;
        while (true)
        {
            var (result, _) = await from.Get<MessageSender>().SendAsync(to, System.Text.Encoding.UTF8.GetBytes(text), CancellationToken.None);
            if (result == OriginateResult.Sent)
            {
                return;
            }

            Assert.True(DateTime.UtcNow < deadline, $"could not send after the attack: {result}");
            await Task.Delay(100);
        }
    }

    private static async Task CheckInboxAsync(System.Threading.Channels.ChannelReader<DeliveredMessage> inbox, RouterAddress from, ConcurrentDictionary<string, bool> sent, string last, CancellationToken cancellationToken)
    {
        var delivered = new HashSet<string>();
        while (true)
        {
            var message = await inbox.ReadAsync(cancellationToken);
            var text = System.Text.Encoding.UTF8.GetString(message.Payload);
            Assert.Equal(from, message.From);
            Assert.True(sent.ContainsKey(text), $"delivered a message nobody sent: {Convert.ToHexString(message.Payload)}");
            Assert.True(delivered.Add(text), $"delivered twice: {text}");
            if (text == last)
            {
                return;
            }
        }
    }

    /// <summary>One forged frame, of a random kind.</summary>
    private static byte[] Forge(Random random, RouterAddress a, RouterAddress b, RouterIdentity impostor, ConcurrentBag<RouterAddress> spoofed)
    {
        switch (random.Next(6))
        {
            case 0:
            {
                // Garbage.
                var garbage = new byte[random.Next(1, 600)];
                random.NextBytes(garbage);
                return garbage;
            }

            case 1:
            {
                // A "message" from B, to either side, with a payload that is not a sealed message of B's.
                var payload = new byte[random.Next(1, 400)];
                random.NextBytes(payload);
                return Frame(FrameKind.Message, 64, random.Next(2) == 0 ? a : b, b, payload, random);
            }

            case 2:
            {
                // A flood from B that B never signed.
                var payload = new byte[random.Next(1, 400)];
                random.NextBytes(payload);
                return Frame(FrameKind.Flood, 64, RouterAddress.None, b, payload, random);
            }

            case 3:
            {
                // A route to an address nobody holds the key for, with the impostor's real proof,
                // in an update with a made-up link seal.
                var fake = TestAddresses.Random();
                spoofed.Add(fake);
                spoofed.Add(impostor.Address);
                var proof = new OriginSigner(impostor).Sign((ushort)random.Next(ushort.MaxValue));
                RouteAdvert[] adverts = [new RouteAdvert(fake, proof.Seqno, 1, proof), new RouteAdvert(impostor.Address, proof.Seqno, 1, proof)];
                var payload = new byte[UpdateMessage.Size(adverts)];
                UpdateMessage.Write(payload, 40, adverts);
                var frame = Frame(FrameKind.Update, 1, random.Next(2) == 0 ? a : b, random.Next(2) == 0 ? a : b, payload, random);
                var trailer = new byte[LinkSession.TrailerSize];
                random.NextBytes(trailer);
                return [.. frame, .. trailer];
            }

            case 4:
            {
                // A link handshake from the impostor claiming to be B.
                using var handshake = new LinkHandshake(impostor, a, []);
                var payload = new byte[LinkHandshakeMessage.Size];
                handshake.Write(payload);
                return Frame(FrameKind.LinkHandshake, 1, a, b, payload, random);
            }

            default:
            {
                // A session handshake from "B" with random contents.
                var payload = new byte[random.Next(1, 300)];
                random.NextBytes(payload);
                return Frame(random.Next(2) == 0 ? FrameKind.SessionInit : FrameKind.SessionAccept, 64, a, b, payload, random);
            }
        }
    }

    private static byte[] Frame(FrameKind kind, byte hopLimit, RouterAddress to, RouterAddress from, byte[] payload, Random random)
    {
        var frame = new byte[FrameHeader.Size + payload.Length];
        new FrameHeader(kind, hopLimit, to, from, (uint)random.Next(), (uint)payload.Length, 0).Write(frame);
        payload.CopyTo(frame, FrameHeader.Size);
        return frame;
    }
}
