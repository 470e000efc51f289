using System.Buffers.Binary;
using Router.Sdk;

namespace Router.Netmods.Tun;

/// <summary>
/// Completes the transport checksum of a packet whose header says
/// <see cref="VirtioNetHeader.NeedsChecksum"/>, for a device that cannot take it unfinished.
/// </summary>
/// <remarks>
/// Linux's CHECKSUM_PARTIAL convention, which virtio and TUN carry unchanged: the sender's
/// kernel has already put the folded (not complemented) sum of the pseudo-header into the
/// checksum field, so the checksum is the complement of the ones'-complement sum of the bytes
/// from <see cref="VirtioNetHeader.ChecksumStart"/> to the end of the packet, the field
/// included, stored at <see cref="VirtioNetHeader.ChecksumStart"/> +
/// <see cref="VirtioNetHeader.ChecksumOffset"/>. Nothing here knows TCP from UDP, so it serves
/// any protocol the kernel offloads; 0 is stored as 0xffff (as UDP requires, and the same
/// number in ones' complement for everyone else). The device tests check the convention
/// against packets from a real kernel.
/// </remarks>
internal static class ChecksumCompletion
{
    /// <summary>
    /// Completes the checksum in <paramref name="packet"/> (the IP packet after the virtio
    /// header, trimmed to its IP length by the caller or not). Returns the IP length of the
    /// packet, or -1 with <paramref name="problem"/> saying what is wrong and nothing changed.
    /// </summary>
    public static int TryComplete(Span<byte> packet, VirtioNetHeader header, out string? problem)
    {
        var length = IpPacket.Length(packet);
        if (length < 0)
        {
            problem = "truncated or inconsistent IP header";
            return -1;
        }

        var ipHeader = IpPacket.Version(packet) == 4 ? IpPacket.Ipv4HeaderLengthOf(packet) : IpPacket.Ipv6HeaderLength;
        int start = header.ChecksumStart;
        var field = start + header.ChecksumOffset;
        if (start < ipHeader || field + 2 > length || (header.ChecksumOffset & 1) != 0)
        {
            problem = "checksum start or offset outside the transport data, or odd";
            return -1;
        }

        var data = packet[start..length];
        var sum = InternetChecksum.Add(data, 0);
        BinaryPrimitives.WriteUInt16BigEndian(packet[field..], InternetChecksum.Finish(sum));
        problem = null;
        return length;
    }
}
