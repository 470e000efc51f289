using Microsoft.Extensions.Configuration;
using Router.Configuration;
using Router.Hosting;
using Router.Identity;
using Router.Plugins;
using Router.Routing;
using Router.Sdk;
using Router.Security;

namespace Router.Tests.Security;

/// <summary>
/// Whole router cores (<see cref="RouterNode"/>) in this process over netmods the test makes,
/// with short routing timers, for the security tests. Disposing stops them all.
/// </summary>
internal sealed class SecureMesh : IAsyncDisposable
{
    private readonly List<RouterNode> _nodes = [];

    public CapturedLogs Logs { get; } = new();

    public async Task<RouterNode> StartAsync(Func<RouterAddress, Netmod> netmod, SecurityOptions? security = null, RouterIdentity? identity = null)
    {
        identity ??= RouterIdentity.Create();
        var created = netmod(identity.Address);
        var plugin = new NetmodPlugin(created.Capabilities.Name, new GivenNetmod(created), "memory", new Version(1, 0), SdkVersion.Current, null);
        var options = new RouterOptions
        {
            KeyFile = "unused",
            ApiSocket = "unused",
            PluginsDirectory = "unused",
            Security = security ?? new SecurityOptions { HandshakeTimeout = TimeSpan.FromSeconds(3) },
            Routing = new RoutingOptions { HelloInterval = TimeSpan.FromMilliseconds(100), UpdateInterval = TimeSpan.FromMilliseconds(400) },
        };
        var node = new RouterNode(identity, options, [plugin], RouterConfiguration.InMemory([], Path.GetTempPath()), Logs.Factory, TimeProvider.System);
        _nodes.Add(node);
        await node.StartAsync(CancellationToken.None);
        return node;
    }

    public static async Task WaitForAsync(Func<bool> condition, TimeSpan limit, Func<string> explain)
    {
        var deadline = DateTime.UtcNow + limit;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"timed out: {explain()}");
            await Task.Delay(20);
        }
    }

    public static bool HasRoute(RouterNode from, RouterAddress to) => from.Get<RouteTable>().TryGetNextHop(to, out _);

    public async ValueTask DisposeAsync()
    {
        foreach (var node in _nodes)
        {
            await node.DisposeAsync();
            node.Identity.Dispose();
        }
    }

    /// <summary>A factory that hands out a netmod the test made.</summary>
    private sealed class GivenNetmod(Netmod netmod) : INetmodFactory
    {
        public string Name => netmod.Capabilities.Name;

        public IEnumerable<string> Validate(IConfiguration configuration) => [];

        public Netmod Create(NetmodContext context) => netmod;
    }
}
