using System.Globalization;

namespace Router.Netmods.Tun;

/// <summary>
/// Receive coalescing: the kernel's GRO merging the TCP segments this netmod writes. A device
/// opened with IFF_NAPI hands each written packet to a NAPI context, whose GRO merges
/// consecutive segments of one flow into one packet, so the machine's TCP stack runs once per
/// merged packet instead of once per segment (from a sender without offloads every segment is
/// at most the MTU, and the receive path per segment is most of the cost of a write). GRO holds
/// segments from one write to the next only while the device's <c>gro_flush_timeout</c> is set:
/// without it each write is flushed alone and IFF_NAPI only adds work. What GRO cannot merge
/// (pure ACKs, ICMP, UDP for sockets without UDP_GRO) and a segment with PSH, FIN, RST, SYN or
/// URG go up at once, with what was held of their flow, so interactive traffic waits for
/// nothing; a segment in the middle of a bulk transfer waits at most the timeout.
/// </summary>
/// <remarks>
/// The timeout has no rtnetlink attribute, so it is written through sysfs. Sysfs shows the
/// interfaces of the network namespace it was mounted for: <c>ip netns exec</c> and containers
/// mount one for theirs, but a process or thread that joined a namespace otherwise sees the old
/// one's. So the interface found there must have this device's index and IFF_NAPI in its
/// <c>tun_flags</c> before anything is written.
/// </remarks>
internal static class ReceiveCoalescing
{
    private const int IffNapi = 0x0010;

    /// <summary>
    /// Sets <paramref name="device"/>'s <c>gro_flush_timeout</c>; false with the reason when
    /// <paramref name="interfacesPath"/> (normally <c>/sys/class/net</c>) does not show it.
    /// </summary>
    public static bool TrySetTimeout(string interfacesPath, TunDevice device, int microseconds, out string problem)
    {
        var directory = Path.Combine(interfacesPath, device.Name);
        try
        {
            var indexFile = Path.Combine(directory, "ifindex");
            if (!File.Exists(indexFile))
            {
                problem = $"{directory} does not exist: this process's /sys shows another network namespace's interfaces";
                return false;
            }

            var index = int.Parse(File.ReadAllText(indexFile).Trim(), CultureInfo.InvariantCulture);
            var flags = Convert.ToInt32(File.ReadAllText(Path.Combine(directory, "tun_flags")).Trim(), 16);
            if (index != device.Index || (flags & IffNapi) == 0)
            {
                problem = $"{directory} is another interface of that name (index {index}, tun_flags 0x{flags:x}; this one has index {device.Index} and IFF_NAPI): this process's /sys shows another network namespace's interfaces";
                return false;
            }

            File.WriteAllText(Path.Combine(directory, "gro_flush_timeout"), (microseconds * 1000L).ToString(CultureInfo.InvariantCulture));
            problem = string.Empty;
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or OverflowException or ArgumentException)
        {
            problem = e.Message;
            return false;
        }
    }
}
