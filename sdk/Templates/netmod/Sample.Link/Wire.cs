using Router.Sdk;

namespace Sample.Link;

/// <summary>
/// What travels in a datagram: one type byte, then the rest.
/// <list type="bullet">
/// <item><see cref="Hello"/> + the sender's 32-byte router address: "I am here". Sent every
/// HelloSeconds to each peer and neighbour; the first one heard from an address brings the
/// neighbour up.</item>
/// <item><see cref="Data"/> + one frame: the router's bytes, untouched.</item>
/// <item><see cref="Bye"/>: the sender is stopping; its neighbour goes down at once.</item>
/// </list>
/// No encryption or authentication here: the router authenticates every link and encrypts
/// every message itself, whatever the netmod.
/// </summary>
internal static class Wire
{
    public const byte Hello = 1;
    public const byte Data = 2;
    public const byte Bye = 3;

    public const int HelloSize = 1 + RouterAddress.Length;

    public static void WriteHello(Span<byte> destination, RouterAddress address)
    {
        destination[0] = Hello;
        address.Write(destination[1..]);
    }
}
