using System.Security.Cryptography;
using BenchmarkDotNet.Attributes;
using Router.Sdk;
using Router.Security;
using Router.Security.Links;
using Router.Security.Sessions;
using Router.Switching;

namespace Router.Benchmarks.Security;

/// <summary>
/// What security costs per frame and per message, on one core:
/// <list type="bullet">
/// <item>a routing control frame sealed by the sender and opened by the neighbour (link seal,
///   AES-256-GCM over the frame as associated data);</item>
/// <item>an end-to-end message sealed at the source and opened at the destination (one
///   AES-256-GCM call each per message, whatever its size): its bytes per second are the
///   end-to-end crypto throughput of one core.</item>
/// </list>
/// Relays do no crypto for data: the switch benchmarks (which include the per-frame link
/// authentication lookup) are their cost.
/// </summary>
[Config(typeof(BenchmarkConfig))]
[MemoryDiagnoser]
public class CryptoBenchmarks : IDisposable
{
    private LinkSession _linkSender = null!;
    private LinkSession _linkReceiver = null!;
    private byte[] _controlFrame = null!;
    private AeadKey _aead = null!;
    private byte[] _plaintext = null!;
    private byte[] _sealed = null!;
    private byte[] _opened = null!;
    private readonly byte[] _aad = new byte[SealedMessage.AssociatedDataLength];
    private ulong _counter;

    /// <summary>Message size: a small packet, an MTU-sized packet, a TUN super-packet.</summary>
    [Params(64, 1400, 65536)]
    public int MessageBytes { get; set; }

    /// <summary>Where the messages' AES-256-GCM comes from (the link seal always uses the router's choice).</summary>
    [ParamsSource(nameof(Implementations))]
    public string Aead { get; set; } = "";

    public static IEnumerable<string> Implementations => AeadKey.LibsodiumAvailable ? ["libsodium", "OpenSSL"] : ["OpenSSL"];

    [GlobalSetup]
    public void Setup()
    {
        var k1 = RandomNumberGenerator.GetBytes(32);
        var k2 = RandomNumberGenerator.GetBytes(32);
        _linkSender = new LinkSession(new LinkKeys(k1, k2));
        _linkReceiver = new LinkSession(new LinkKeys(k2, k1));
        _controlFrame = new byte[FrameHeader.Size + 16 + LinkSession.TrailerSize]; // a hello

        _aead = new AeadKey(RandomNumberGenerator.GetBytes(32), libsodium: Aead == "libsodium");
        _plaintext = RandomNumberGenerator.GetBytes(MessageBytes);
        _sealed = new byte[MessageBytes + SealedMessage.Overhead];
        _opened = new byte[MessageBytes];
        SealedMessage.WriteAssociatedData(_aad, FrameKind.Message, RouterAddress.None, RouterAddress.None, 1, (uint)_sealed.Length);
    }

    /// <summary>One hello sealed and opened (both ends of a link).</summary>
    [Benchmark]
    public int ControlFrameSealAndOpen()
    {
        var length = _linkSender.Seal(_controlFrame, FrameHeader.Size + 16);
        _linkReceiver.TryOpen(_controlFrame.AsSpan(0, length), out var opened);
        return opened;
    }

    /// <summary>One message sealed at the source.</summary>
    [Benchmark]
    public void MessageSeal() => SealedMessage.Seal(_aead, 0, 1, ++_counter, _aad, _plaintext, _sealed);

    /// <summary>One message sealed and opened (source and destination).</summary>
    [Benchmark]
    public bool MessageSealAndOpen()
    {
        SealedMessage.Seal(_aead, 0, 1, ++_counter, _aad, _plaintext, _sealed);
        return SealedMessage.TryOpen(_aead, 0, _sealed, _aad, _opened);
    }

    public void Dispose()
    {
        _linkSender?.Dispose();
        _linkReceiver?.Dispose();
        _aead?.Dispose();
        GC.SuppressFinalize(this);
    }
}
