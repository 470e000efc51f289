using System.Net;
using System.Net.Sockets;

namespace Router.Netmods.Inet;

/// <summary>Why <see cref="InboundAdmission.TryAdmit"/> refused a connection, or that it did not.</summary>
internal enum Admission
{
    Admitted,

    /// <summary><see cref="InetOptions.MaxInboundConnections"/> are open.</summary>
    TotalFull,

    /// <summary><see cref="InetOptions.MaxInboundConnectionsPerAddress"/> from this address are open.</summary>
    AddressFull,
}

/// <summary>
/// Counts the inbound connections open now, in total and per remote IP address, so one host
/// (or many) cannot hold unbounded sockets and connection threads. A connection holds its
/// place from accept until it ends, whatever stage it reaches. Thread-safe: several accept
/// loops admit and every connection releases; one short lock, taken once per accept and once
/// per close, never on the frame path.
/// </summary>
/// <remarks>
/// Keyed by the whole address: an IPv6 host that owns a /64 can open connections from many
/// addresses, and only the total limit bounds it.
/// </remarks>
internal sealed class InboundAdmission
{
    private readonly Lock _lock = new();
    private readonly Dictionary<IPAddress, int> _perAddress = [];
    private readonly int _maxTotal;
    private readonly int _maxPerAddress;
    private int _total;

    public InboundAdmission(int maxTotal, int maxPerAddress)
    {
        _maxTotal = maxTotal;
        _maxPerAddress = maxPerAddress;
    }

    /// <summary>Inbound connections holding a place now.</summary>
    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _total;
            }
        }
    }

    /// <summary>Inbound connections from <paramref name="address"/> holding a place now.</summary>
    public int CountFrom(IPAddress address)
    {
        lock (_lock)
        {
            return _perAddress.GetValueOrDefault(Normalize(address));
        }
    }

    /// <summary>
    /// Takes a place for a connection from <paramref name="address"/> unless a limit is
    /// reached. Every <see cref="Admission.Admitted"/> must be paired with one <see cref="Release"/>.
    /// </summary>
    public Admission TryAdmit(IPAddress address)
    {
        address = Normalize(address);
        lock (_lock)
        {
            if (_total >= _maxTotal)
            {
                return Admission.TotalFull;
            }

            _perAddress.TryGetValue(address, out var count);
            if (count >= _maxPerAddress)
            {
                return Admission.AddressFull;
            }

            _perAddress[address] = count + 1;
            _total++;
            return Admission.Admitted;
        }
    }

    /// <summary>Gives back the place taken by an admitted connection from <paramref name="address"/>.</summary>
    public void Release(IPAddress address)
    {
        address = Normalize(address);
        lock (_lock)
        {
            if (!_perAddress.TryGetValue(address, out var count))
            {
                return;
            }

            // Entries leave with their last connection, so the table is as large as the
            // number of addresses connected now, never the number ever seen.
            if (count <= 1)
            {
                _perAddress.Remove(address);
            }
            else
            {
                _perAddress[address] = count - 1;
            }

            _total--;
        }
    }

    /// <summary>IPv4 through a dual-stack listener arrives v4-mapped; count it with plain IPv4.</summary>
    private static IPAddress Normalize(IPAddress address) =>
        address.AddressFamily == AddressFamily.InterNetworkV6 && address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
}
