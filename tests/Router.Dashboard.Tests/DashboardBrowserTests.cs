using Microsoft.Playwright;
using Router.IntegrationTests;

namespace Router.Dashboard.Tests;

/// <summary>
/// The page in a real browser (Debian's chromium driven by Playwright): three routers in a
/// line A — B — C, A's dashboard open. The graph shows all three (A local, B its neighbour,
/// C reached through B); stopping C makes C leave the graph and the routes, stopping B then
/// leaves B in the graph unreachable with its peer no longer up — each seen live, without a reload.
/// </summary>
public sealed class DashboardBrowserTests : IAsyncLifetime
{
    private const string Chromium = "/usr/bin/chromium";
    private const float Timeout = 30_000;
    private readonly TestMesh _mesh = new();
    private readonly int _dashboardPort = TestMesh.FreePort();
    private RouterProcess? _a;
    private RouterProcess? _b;
    private RouterProcess? _c;

    public async Task InitializeAsync()
    {
        var portA = TestMesh.FreePort();
        var portB = TestMesh.FreePort();
        // A dials B (so B stays a configured peer of A once it is gone); C dials B.
        _a = new RouterProcess(_mesh.Config("a", portA, peerPorts: [portB], routerExtra: DashboardClient.FastRouting + DashboardClient.On(_dashboardPort)));
        _b = new RouterProcess(_mesh.Config("b", portB, routerExtra: DashboardClient.FastRouting + DashboardClient.Off));
        _c = new RouterProcess(_mesh.Config("c", TestMesh.FreePort(), peerPorts: [portB], routerExtra: DashboardClient.FastRouting + DashboardClient.Off));
        await Task.WhenAll(_a.StartAsync(), _b.StartAsync(), _c.StartAsync());
    }

    [Fact]
    public async Task Page_ThreeRoutersThenLinksCut_GraphFollowsLive()
    {
        Assert.True(File.Exists(Chromium), $"{Chromium} is missing: apt-get install chromium (.ci/run installs it)");
        var a = await _a!.AddressAsync();
        var b = await _b!.AddressAsync();
        var c = await _c!.AddressAsync();

        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = Chromium,
            Headless = true,
            Timeout = 60_000,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        });
        var page = await browser.NewPageAsync();
        page.SetDefaultTimeout(Timeout);
        var problems = new List<string>();
        page.Console += (_, message) =>
        {
            if (message.Type == "error")
            {
                lock (problems)
                {
                    problems.Add($"console: {message.Text}");
                }
            }
        };
        page.PageError += (_, error) =>
        {
            lock (problems)
            {
                problems.Add($"page error: {error}");
            }
        };
        var requests = new List<string>();
        page.Request += (_, request) =>
        {
            lock (requests)
            {
                requests.Add(request.Url);
            }
        };

        await page.GotoAsync($"http://127.0.0.1:{_dashboardPort}/");

        // All three in the graph: A marked as this router, B a neighbour, C through B.
        await page.WaitForSelectorAsync($"#graph g.node.local[data-address='{a}']");
        await page.WaitForSelectorAsync($"#graph g.node.neighbour[data-address='{b}'][data-reachable='true']");
        await page.WaitForSelectorAsync($"#graph g.node.remote[data-address='{c}'][data-reachable='true']");
        // Lines may be vertical (zero width), which Playwright counts as hidden: wait for them in the DOM.
        await page.WaitForSelectorAsync($"#graph line.link[data-from='{a}'][data-to='{b}']", new() { State = WaitForSelectorState.Attached });
        await page.WaitForSelectorAsync($"#graph line.route[data-from='{b}'][data-to='{c}']", new() { State = WaitForSelectorState.Attached });
        Assert.Equal(3, await page.Locator("#graph g.node").CountAsync());
        Assert.Equal(ShortOf(a) + " (this router)", await page.Locator($"#graph g.node[data-address='{a}'] text").TextContentAsync());
        Assert.Equal(ShortOf(c), await page.Locator($"#graph g.node[data-address='{c}'] text").TextContentAsync());
        await page.WaitForSelectorAsync($"#peers tr[data-address='{b}'][data-state='up']");
        await page.WaitForSelectorAsync($"#routes tr[data-destination='{c}']");
        Assert.Equal("live", await page.Locator("#conn").TextContentAsync());
        Assert.Equal(ShortOf(a), await page.Locator("#self").TextContentAsync());

        // Cut C off: it leaves A's graph and route table, B stays.
        await _c!.StopAsync();
        await page.WaitForSelectorAsync($"#graph g.node[data-address='{c}']", new() { State = WaitForSelectorState.Detached });
        await page.WaitForSelectorAsync($"#routes tr[data-destination='{c}']", new() { State = WaitForSelectorState.Detached });
        await page.WaitForSelectorAsync($"#graph g.node.neighbour[data-address='{b}'][data-reachable='true']");
        Assert.Equal(2, await page.Locator("#graph g.node").CountAsync());

        // Cut A's own link: B stays in the graph as a configured peer, unreachable, its peer row no longer up.
        await _b!.StopAsync();
        await page.WaitForSelectorAsync($"#graph g.node.unreachable[data-address='{b}'][data-reachable='false']");
        await page.WaitForSelectorAsync($"#peers tr[data-address='{b}']:not([data-state='up'])");
        Assert.Equal(0, await page.Locator("#graph line").CountAsync());

        lock (problems)
        {
            Assert.Empty(problems);
        }

        // The page is self-contained: every request it made went to the dashboard itself.
        lock (requests)
        {
            Assert.All(requests, url => Assert.StartsWith($"http://127.0.0.1:{_dashboardPort}/", url, StringComparison.Ordinal));
        }
    }

    /// <summary>The short form the page shows: the first 8 hex digits of the address.</summary>
    private static string ShortOf(string address) => new string([.. address.Where(char.IsAsciiHexDigit)])[..8];

    public async Task DisposeAsync()
    {
        foreach (var router in new[] { _c, _b, _a })
        {
            if (router is not null)
            {
                await router.DisposeAsync();
            }
        }

        _mesh.Dispose();
    }
}
