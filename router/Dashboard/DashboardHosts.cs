using System.Net;
using Microsoft.AspNetCore.Http;

namespace Router.Dashboard;

/// <summary>
/// Which Host headers the dashboard answers. A browser sends the name it was told to visit:
/// a page on <c>evil.example</c> whose DNS record is switched to 127.0.0.1 (DNS rebinding)
/// reaches the dashboard's socket with <c>Host: evil.example</c> and is refused here, so it
/// never reads the mesh's state. Accepted: <c>localhost</c> when listening on loopback or on
/// every address, the listen address itself (any loopback address when listening on loopback;
/// any IP literal when listening on every address), and <see cref="DashboardOptions.AllowedHosts"/>.
/// The port is not compared: a port forward may change it, and it does not name a site.
/// </summary>
internal sealed class DashboardHosts
{
    private readonly IPAddress _listen;
    private readonly bool _any;
    private readonly HashSet<string> _allowed;

    public DashboardHosts(DashboardOptions options)
    {
        _listen = options.Listen.Address;
        _any = _listen.Equals(IPAddress.Any) || _listen.Equals(IPAddress.IPv6Any);
        _allowed = new HashSet<string>(options.AllowedHosts.Select(h => h.Trim('[', ']')), StringComparer.OrdinalIgnoreCase);
    }

    public bool IsAllowed(HostString host)
    {
        if (!host.HasValue)
        {
            return false;
        }

        var name = host.Host.Trim('[', ']');
        if (_allowed.Contains(name))
        {
            return true;
        }

        if (IPAddress.TryParse(name, out var address))
        {
            if (address.IsIPv4MappedToIPv6)
            {
                address = address.MapToIPv4();
            }

            return _any || address.Equals(_listen) || (IPAddress.IsLoopback(_listen) && IPAddress.IsLoopback(address));
        }

        return name.Equals("localhost", StringComparison.OrdinalIgnoreCase) && (_any || IPAddress.IsLoopback(_listen));
    }
}
