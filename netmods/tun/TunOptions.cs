using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Configuration;
using Router.Sdk;

namespace Router.Netmods.Tun;

/// <summary>An address assigned to the device with its prefix length, e.g. <c>10.66.1.1/24</c>.</summary>
/// <param name="Address">The address (IPv4 or IPv6, no scope).</param>
/// <param name="PrefixLength">Bits of the network part; the kernel routes that network into the device.</param>
internal readonly record struct InterfaceAddress(IPAddress Address, int PrefixLength)
{
    /// <inheritdoc />
    public override string ToString() => $"{Address}/{PrefixLength.ToString(CultureInfo.InvariantCulture)}";
}

/// <summary>
/// The tun netmod's settings, read from its configuration section (<c>Netmods:tun</c>).
/// <see cref="Parse"/> is the one reader: <see cref="TunFactory.Validate"/> reports what it
/// collects and <see cref="TunFactory.Create"/> uses what it returns, so both agree.
/// </summary>
/// <remarks>
/// Read with the SDK's <see cref="NetmodConfigReader"/>, like every netmod, so every problem,
/// unknown keys included, is reported at once in the same words. Every key is described in
/// README.md.
/// </remarks>
internal sealed record TunOptions
{
    /// <summary>The device name when none is configured.</summary>
    public const string DefaultName = "mesh0";

    /// <summary>The smallest MTU: IPv6's minimum, below which the kernel switches IPv6 off on the device.</summary>
    public const int MinMtu = 1280;

    /// <summary>The largest MTU: the largest IP packet.</summary>
    public const int MaxMtu = 65535;

    /// <summary>Most bytes the announced prefixes may take in the router's announcement (2 + ceil(length/8) each).</summary>
    public const int MaxPrefixBytes = 63;

    /// <summary>The TUN clone device every TUN interface is created through.</summary>
    public const string DefaultDevicePath = "/dev/net/tun";

    // IFNAMSIZ is 16 bytes including the terminating NUL.
    private const int MaxNameLength = 15;

    private static readonly string[] KnownKeys = ["Enabled", "Name", "Mtu", "Offload", "TxQueueLength", "GroTimeoutMicroseconds", "Addresses", "Prefixes"];

    /// <summary>The interface name.</summary>
    public string Name { get; init; } = DefaultName;

    /// <summary>The device MTU.</summary>
    public int Mtu { get; init; } = MinMtu;

    /// <summary>Whether to exchange checksum-less and GSO super-packets with the kernel (IFF_VNET_HDR and TUNSETOFFLOAD).</summary>
    public bool Offload { get; init; } = true;

    /// <summary>Packets the device queues for the netmod to read before the kernel drops (txqueuelen).</summary>
    public int TxQueueLength { get; init; } = 10_000;

    /// <summary>
    /// How long the kernel may hold a TCP segment the netmod wrote, to merge it with the next
    /// ones of its flow (GRO, through the device's NAPI context and its gro_flush_timeout);
    /// 0 for no merging. The default is one scheduler tick at 250 Hz: a shorter timeout is
    /// re-armed ahead of the tick on every write, which reprograms the CPU's timer each time
    /// (README, "Receive coalescing").
    /// </summary>
    public int GroTimeoutMicroseconds { get; init; } = 4000;

    /// <summary>Addresses assigned to the device besides the overlay address.</summary>
    public IReadOnlyList<InterfaceAddress> Addresses { get; init; } = [];

    /// <summary>Networks this machine serves, announced to the mesh.</summary>
    public IReadOnlyList<IPNetwork> Prefixes { get; init; } = [];

    /// <summary>
    /// The clone device to open. Not a configuration key: tests point it elsewhere to see how a
    /// missing or unusable device is reported.
    /// </summary>
    public string DevicePath { get; init; } = DefaultDevicePath;

    /// <summary>
    /// Where the kernel shows this namespace's interfaces (<c>/sys/class/net</c>). Not a
    /// configuration key: tests point it at a sysfs mounted for their namespace.
    /// </summary>
    public string InterfacesPath { get; init; } = "/sys/class/net";

    /// <summary>
    /// Reads <paramref name="section"/>. Returns the options when the section is valid;
    /// otherwise returns null and adds every problem found to <paramref name="errors"/>,
    /// each a sentence naming the key. Never throws for bad input.
    /// </summary>
    public static TunOptions? Parse(IConfiguration section, ICollection<string> errors)
    {
        ArgumentNullException.ThrowIfNull(section);
        ArgumentNullException.ThrowIfNull(errors);
        var defaults = new TunOptions();
        var reader = new NetmodConfigReader(section, TunFactory.NetmodName, KnownKeys);

        // The router reads Enabled itself and strips it; checking it here means a section read
        // on its own (tests, tools) reports a typo in it too.
        reader.ReadBool("Enabled", true);
        var name = ReadName(section, reader, defaults.Name);
        var mtu = reader.ReadInt("Mtu", defaults.Mtu, MinMtu, MaxMtu);
        var offload = reader.ReadBool("Offload", defaults.Offload);
        var txQueueLength = reader.ReadInt("TxQueueLength", defaults.TxQueueLength, 1, 1_000_000);
        var groTimeout = reader.ReadInt("GroTimeoutMicroseconds", defaults.GroTimeoutMicroseconds, 0, 10_000);
        var addresses = ReadAddresses(reader);
        var prefixes = ReadPrefixes(reader);

        foreach (var problem in reader.Problems)
        {
            errors.Add(problem);
        }

        return reader.HasProblems ? null : new TunOptions
        {
            Name = name!,
            Mtu = mtu!.Value,
            Offload = offload!.Value,
            TxQueueLength = txQueueLength!.Value,
            GroTimeoutMicroseconds = groTimeout!.Value,
            Addresses = addresses!,
            Prefixes = prefixes!,
        };
    }

    /// <summary>Bytes <paramref name="prefixes"/> take in the router's announcement: 2 + ceil(length/8) each.</summary>
    public static int EncodedBytes(IEnumerable<IPNetwork> prefixes) => prefixes.Sum(p => 2 + ((p.PrefixLength + 7) / 8));

    private static string? ReadName(IConfiguration section, NetmodConfigReader reader, string fallback)
    {
        var text = section["Name"];
        if (text is null)
        {
            return reader.HasNestedSection("Name") ? null : fallback;
        }

        // The kernel's rule (dev_valid_name), made stricter: printable ASCII only, and no '%',
        // which would make the kernel pick a number and the name unpredictable.
        string? problem = text.Length == 0 ? "is empty"
            : text.Length > MaxNameLength ? $"is {text.Length} characters; Linux allows at most {MaxNameLength}"
            : text is "." or ".." ? "is not allowed by Linux"
            : text.Any(c => c is <= ' ' or > '~' or '/' or ':' or '%') ? "may hold only printable ASCII without spaces, '/', ':' or '%'"
            : null;
        if (problem is not null)
        {
            reader.Report("Name", $"'{text}' is not a usable interface name: it {problem}.");
            return null;
        }

        return text;
    }

    private static List<InterfaceAddress>? ReadAddresses(NetmodConfigReader reader)
    {
        if (reader.ReadStrings("Addresses", "address/length pair", "10.66.1.1/24") is not { } entries)
        {
            return null;
        }

        var result = new List<InterfaceAddress>();
        var ok = true;
        for (var i = 0; i < entries.Count; i++)
        {
            var key = $"Addresses[{i.ToString(CultureInfo.InvariantCulture)}]";
            if (!TryParseAddress(entries[i], out var address, out var problem))
            {
                reader.Report(key, $"'{entries[i]}' {problem}; expected an address with a prefix length such as 10.66.1.1/24 or fd00:66::1/64.");
                ok = false;
            }
            else if (address.PrefixLength == 0)
            {
                reader.Report(key, $"'{entries[i]}' has prefix length 0, which would route every address into the device; use Prefixes and the mesh's routes for that.");
                ok = false;
            }
            else if (OverlayAddress.IsOverlay(address.Address))
            {
                reader.Report(key, $"'{entries[i]}' lies in the overlay prefix {OverlayAddress.Prefix}, whose address the netmod assigns itself.");
                ok = false;
            }
            else if (result.Any(a => a.Address.Equals(address.Address)))
            {
                reader.Report(key, $"'{entries[i]}' is listed twice.");
                ok = false;
            }
            else
            {
                result.Add(address);
            }
        }

        return ok ? result : null;
    }

    private static List<IPNetwork>? ReadPrefixes(NetmodConfigReader reader)
    {
        if (reader.ReadStrings("Prefixes", "network", "10.66.1.0/24") is not { } entries)
        {
            return null;
        }

        var result = new List<IPNetwork>();
        var ok = true;
        for (var i = 0; i < entries.Count; i++)
        {
            var key = $"Prefixes[{i.ToString(CultureInfo.InvariantCulture)}]";
            if (!TryParseAddress(entries[i], out var entry, out var problem))
            {
                reader.Report(key, $"'{entries[i]}' {problem}; expected a network such as 10.66.1.0/24 or fd00:66::/64.");
                ok = false;
                continue;
            }

            var network = new IPNetwork(Mask(entry.Address, entry.PrefixLength), entry.PrefixLength);
            if (!network.BaseAddress.Equals(entry.Address))
            {
                reader.Report(key, $"'{entries[i]}' has host bits set; the network is {network}.");
                ok = false;
            }
            else if (OverlayAddress.IsOverlay(network.BaseAddress))
            {
                // A shorter prefix around it (fd00::/8, ::/0) is fine: the overlay's /16 is more specific.
                reader.Report(key, $"'{entries[i]}' lies in the overlay prefix {OverlayAddress.Prefix}, whose addresses belong to routers by their keys.");
                ok = false;
            }
            else if (result.Contains(network))
            {
                reader.Report(key, $"'{entries[i]}' is listed twice.");
                ok = false;
            }
            else
            {
                result.Add(network);
            }
        }

        if (ok && EncodedBytes(result) is var bytes && bytes > MaxPrefixBytes)
        {
            reader.Report("Prefixes", $"the {result.Count} prefixes take {bytes} bytes in the router's announcement (2 + prefix length/8, rounded up, each); at most {MaxPrefixBytes} fit. Announce fewer or shorter prefixes.");
            ok = false;
        }

        return ok ? result : null;
    }

    /// <summary>Parses <c>address/length</c>: a plain IPv4 (four numbers) or IPv6 address without scope, and a length that fits its family.</summary>
    private static bool TryParseAddress(string text, out InterfaceAddress result, out string problem)
    {
        result = default;
        var slash = text.IndexOf('/', StringComparison.Ordinal);
        if (slash < 0)
        {
            problem = "has no prefix length";
            return false;
        }

        var addressText = text[..slash];
        if (!IPAddress.TryParse(addressText, out var address)
            || (address.AddressFamily == AddressFamily.InterNetwork && addressText.Count(c => c == '.') != 3)
            || addressText.Contains('%', StringComparison.Ordinal))
        {
            problem = "is not an IPv4 or IPv6 address";
            return false;
        }

        if (address.IsIPv4MappedToIPv6)
        {
            problem = "is an IPv4-mapped IPv6 address; write the IPv4 address";
            return false;
        }

        var maxLength = address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128;
        if (!int.TryParse(text.AsSpan(slash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var length) || length > maxLength)
        {
            problem = $"has no prefix length from 0 to {maxLength}";
            return false;
        }

        result = new InterfaceAddress(address, length);
        problem = string.Empty;
        return true;
    }

    private static IPAddress Mask(IPAddress address, int prefixLength)
    {
        var bytes = address.GetAddressBytes();
        for (var i = 0; i < bytes.Length; i++)
        {
            var bits = Math.Clamp(prefixLength - (i * 8), 0, 8);
            bytes[i] &= (byte)(0xff00 >> bits);
        }

        return new IPAddress(bytes);
    }
}
