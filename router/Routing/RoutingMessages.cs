using System.Buffers.Binary;
using Router.Sdk;

namespace Router.Routing;

/// <summary>
/// A hello: sent to each neighbour every hello interval. Its sequence number lets the
/// receiver count lost hellos; the echoed timestamp and delay let the receiver measure the
/// round-trip time without synchronised clocks (as in Babel's RTT extension).
/// <code>
/// 0 u16 seqno   2 u16 interval (centiseconds)   4 u32 timestamp (µs, sender's clock)
/// 8 u32 echo: the last timestamp received from this neighbour (0: none yet)
/// 12 u32 echo delay: µs between receiving that hello and sending this one
/// </code>
/// </summary>
internal readonly record struct Hello(ushort Seqno, ushort IntervalCentiseconds, uint Timestamp, uint EchoTimestamp, uint EchoDelay)
{
    public const int Size = 16;

    public void Write(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt16BigEndian(destination, Seqno);
        BinaryPrimitives.WriteUInt16BigEndian(destination[2..], IntervalCentiseconds);
        BinaryPrimitives.WriteUInt32BigEndian(destination[4..], Timestamp);
        BinaryPrimitives.WriteUInt32BigEndian(destination[8..], EchoTimestamp);
        BinaryPrimitives.WriteUInt32BigEndian(destination[12..], EchoDelay);
    }

    public static bool TryRead(ReadOnlySpan<byte> payload, out Hello hello)
    {
        hello = default;
        if (payload.Length < Size)
        {
            return false;
        }

        hello = new Hello(
            BinaryPrimitives.ReadUInt16BigEndian(payload),
            BinaryPrimitives.ReadUInt16BigEndian(payload[2..]),
            BinaryPrimitives.ReadUInt32BigEndian(payload[4..]),
            BinaryPrimitives.ReadUInt32BigEndian(payload[8..]),
            BinaryPrimitives.ReadUInt32BigEndian(payload[12..]));
        return hello.IntervalCentiseconds != 0;
    }
}

/// <summary>One route in an update: the origin router, its sequence number, and the sender's metric to it.</summary>
internal readonly record struct RouteAdvert(RouterAddress Origin, ushort Seqno, ushort Metric);

/// <summary>
/// An update: routes the sender offers, as type-length-value entries after a small header,
/// so later versions can add prefixes and origin signatures as new entry types that older
/// routers skip.
/// <code>
/// 0 u16 update interval (centiseconds): the receiver expires these routes after 3.5 of them
/// 2 entries: u8 type, u8 length, value
///   type 1 (route), length 36: [32] origin, u16 seqno, u16 metric (0xFFFF: retraction)
/// </code>
/// </summary>
internal static class UpdateMessage
{
    public const int HeaderSize = 2;
    public const byte RouteEntryType = 1;
    public const int RouteEntryLength = 36;
    public const int RouteEntrySize = 2 + RouteEntryLength;

    /// <summary>How many route entries fit in a payload of <paramref name="payloadCapacity"/> bytes.</summary>
    public static int Capacity(int payloadCapacity) => Math.Max(0, (payloadCapacity - HeaderSize) / RouteEntrySize);

    public static int Size(int entries) => HeaderSize + (entries * RouteEntrySize);

    public static int Write(Span<byte> destination, ushort intervalCentiseconds, ReadOnlySpan<RouteAdvert> routes)
    {
        BinaryPrimitives.WriteUInt16BigEndian(destination, intervalCentiseconds);
        var position = HeaderSize;
        foreach (var route in routes)
        {
            destination[position] = RouteEntryType;
            destination[position + 1] = RouteEntryLength;
            route.Origin.Write(destination.Slice(position + 2, RouterAddress.Length));
            BinaryPrimitives.WriteUInt16BigEndian(destination[(position + 34)..], route.Seqno);
            BinaryPrimitives.WriteUInt16BigEndian(destination[(position + 36)..], route.Metric);
            position += RouteEntrySize;
        }

        return position;
    }

    /// <summary>
    /// Reads the route entries into <paramref name="routes"/>, skipping entry types it does not
    /// know. False when the payload is malformed (an entry runs past the end, a route entry
    /// with the wrong length, or a zero interval); then nothing from it should be used.
    /// </summary>
    public static bool TryRead(ReadOnlySpan<byte> payload, List<RouteAdvert> routes, out ushort intervalCentiseconds)
    {
        routes.Clear();
        intervalCentiseconds = 0;
        if (payload.Length < HeaderSize)
        {
            return false;
        }

        intervalCentiseconds = BinaryPrimitives.ReadUInt16BigEndian(payload);
        var position = HeaderSize;
        while (position < payload.Length)
        {
            if (position + 2 > payload.Length)
            {
                return false;
            }

            var type = payload[position];
            int length = payload[position + 1];
            if (position + 2 + length > payload.Length)
            {
                return false;
            }

            var value = payload.Slice(position + 2, length);
            if (type == RouteEntryType)
            {
                if (length != RouteEntryLength)
                {
                    return false;
                }

                routes.Add(new RouteAdvert(
                    RouterAddress.Read(value[..RouterAddress.Length]),
                    BinaryPrimitives.ReadUInt16BigEndian(value[32..]),
                    BinaryPrimitives.ReadUInt16BigEndian(value[34..])));
            }

            position += 2 + length;
        }

        return intervalCentiseconds != 0;
    }
}

/// <summary>
/// A seqno request: asks the origin for a route with at least this sequence number, so a
/// router left with only unfeasible routes can get a feasible one quickly. Forwarded
/// towards the origin along selected routes, at most <see cref="HopCount"/> hops.
/// <code>0 [32] origin   32 u16 seqno   34 u8 hop count</code>
/// </summary>
internal readonly record struct SeqnoRequest(RouterAddress Origin, ushort Seqno, byte HopCount)
{
    public const int Size = 35;

    public void Write(Span<byte> destination)
    {
        Origin.Write(destination[..RouterAddress.Length]);
        BinaryPrimitives.WriteUInt16BigEndian(destination[32..], Seqno);
        destination[34] = HopCount;
    }

    public static bool TryRead(ReadOnlySpan<byte> payload, out SeqnoRequest request)
    {
        request = default;
        if (payload.Length < Size)
        {
            return false;
        }

        request = new SeqnoRequest(RouterAddress.Read(payload[..RouterAddress.Length]), BinaryPrimitives.ReadUInt16BigEndian(payload[32..]), payload[34]);
        return true;
    }
}
