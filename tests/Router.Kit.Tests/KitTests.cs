using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using Router.IntegrationTests;
using Router.Sdk;
using Xunit.Abstractions;

namespace Router.Kit.Tests;

/// <summary>
/// What a third-party netmod author does, from <c>dotnet new</c> to a netmod loaded by a running
/// router, with the packages this repository packs — nothing from the repository's own build
/// reaches the generated projects except through the packed SDK.
/// </summary>
public sealed partial class KitTests(ITestOutputHelper output)
{
    private static readonly TimeSpan DotnetStep = TimeSpan.FromMinutes(4);

    [Fact]
    public async Task NewNetmod_FromTheTemplate_PassesConformanceAndCarriesAMessageBetweenTwoRouters()
    {
        Assert.True(File.Exists(Kit.RouterExecutable), $"the router is not built at {Kit.RouterExecutable}");
        var root = Directory.CreateTempSubdirectory("router-kit-").FullName;
        var routers = new List<Process>();
        try
        {
            var feed = Path.Combine(root, "feed");
            var hive = Path.Combine(root, "hive");
            var work = Path.Combine(root, "work");
            Directory.CreateDirectory(work);

            // Packages nested tools extract go to a folder of this test's own, so a package
            // packed by an earlier run (same version, other bits) can never be reused.
            var environment = new Dictionary<string, string> { ["NUGET_PACKAGES"] = Path.Combine(root, "packages") };

            // 1. The kit's three packages, built out of tree.
            await DotnetAsync(Kit.RepoRoot, environment, "pack", Kit.PackTarget, "-c", "Release", "--artifacts-path", Path.Combine(root, "artifacts"), "-o", feed, "--disable-build-servers");
            var version = SdkVersion.Current.ToString(3);
            foreach (var package in new[] { "Router.Sdk", "Router.Sdk.Testing", "Router.Templates" })
            {
                Assert.True(File.Exists(Path.Combine(feed, $"{package}.{version}.nupkg")), $"dotnet pack made no {package}.{version}.nupkg in {feed}");
            }

            // 2. The template, from its package, into a template hive of this test's own.
            await DotnetAsync(work, environment, "new", "install", Path.Combine(feed, $"Router.Templates.{version}.nupkg"), "--debug:custom-hive", hive);
            await DotnetAsync(work, environment, "new", "router-netmod", "-n", "Kit.Link", "--netmod-name", "kit-link", "-o", Path.Combine(work, "Kit.Link"), "--debug:custom-hive", hive);
            var registries = await Kit.RegistrySourcesAsync(work);
            await File.WriteAllTextAsync(Path.Combine(work, "nuget.config"), Kit.NuGetConfig(feed, Kit.MachinePackages, registries));

            // 3. Build it and run its tests: the conformance suite from the packed testing package.
            var test = await DotnetAsync(Path.Combine(work, "Kit.Link"), environment, "test", "-c", "Release", "--disable-build-servers", "--logger", "console;verbosity=normal");
            var total = TotalTests().Match(test.Output);
            Assert.True(total.Success && int.Parse(total.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) >= 17,
                $"the generated tests did not run the conformance suite:\n{test.Output}");
            Assert.Contains("Passed Kit.Link.Tests.ConformanceTests.SendAsync_RoundTrip_ArrivesIntactFromTheAnnouncedNeighbour", test.Output, StringComparison.Ordinal);

            // 4. The plugin folder, as an author publishes it: no Router.Sdk beside it (the router supplies its own).
            var plugins = Path.Combine(root, "plugins");
            await DotnetAsync(work, environment, "publish", Path.Combine(work, "Kit.Link", "Kit.Link", "Kit.Link.csproj"), "-c", "Release", "--no-build", "-o", Path.Combine(plugins, "Kit.Link"));
            Assert.True(File.Exists(Path.Combine(plugins, "Kit.Link", "Kit.Link.dll")), "publish made no Kit.Link.dll");
            Assert.False(File.Exists(Path.Combine(plugins, "Kit.Link", "Router.Sdk.dll")), "Router.Sdk.dll was published beside the plugin; the router must supply its own");

            // 5. Two routers with only that netmod, linked over loopback, pass a message.
            var portA = TestPorts.Next();
            var portB = TestPorts.Next();
            var a = await StartRouterAsync(routers, Path.Combine(root, "a"), Kit.RouterConfig(plugins, "kit-link", portA, peerPort: null));
            var b = await StartRouterAsync(routers, Path.Combine(root, "b"), Kit.RouterConfig(plugins, "kit-link", portB, peerPort: portA));

            var statusB = await StatusAsync(b);
            var netmod = Assert.Single(statusB.GetProperty("netmods").EnumerateArray());
            Assert.Equal("kit-link", netmod.GetProperty("name").GetString());
            Assert.Equal("running", netmod.GetProperty("state").GetString());

            var addressA = (await StatusAsync(a)).GetProperty("address").GetString()!;
            var addressB = statusB.GetProperty("address").GetString()!;
            await WaitForPeerUpAsync(a, addressB);
            await WaitForPeerUpAsync(b, addressA);
            await SendAndReceiveAsync(from: a, to: b, addressB, "hello over a netmod made from the template", Path.Combine(root, "received.bin"));
        }
        finally
        {
            foreach (var router in routers)
            {
                await Processes.StopAsync(router, TimeSpan.FromSeconds(15));
                router.Dispose();
            }

            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public void Template_DefaultSdkVersion_IsTheSdkVersion()
    {
        // The template's default is written in two places of its folder; both must be the
        // version Package.props gives the SDK, or a new netmod would build against an old SDK.
        var version = SdkVersion.Current.ToString(3);
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(Kit.TemplateFolder, ".template.config", "template.json")));
        Assert.Equal(version, json.RootElement.GetProperty("symbols").GetProperty("sdkVersion").GetProperty("defaultValue").GetString());

        var props = XDocument.Load(Path.Combine(Kit.TemplateFolder, "Directory.Build.props"));
        Assert.Equal(version, props.Descendants("RouterSdkVersion").Single().Value);
    }

    private async Task<ProcessResult> DotnetAsync(string workingDirectory, IReadOnlyDictionary<string, string> environment, params string[] args)
    {
        var clock = Stopwatch.StartNew();
        var result = await Processes.RunAsync("dotnet", args, workingDirectory, DotnetStep, environment);
        output.WriteLine($"dotnet {string.Join(' ', args)}: exit {result.ExitCode} after {clock.Elapsed.TotalSeconds:0.0} s");
        Assert.True(result.ExitCode == 0, $"dotnet {string.Join(' ', args)} failed with {result.ExitCode}:\n{result.Output}");
        return result;
    }

    private async Task<string> StartRouterAsync(List<Process> routers, string folder, string config)
    {
        Directory.CreateDirectory(folder);
        var path = Path.Combine(folder, "config.json");
        await File.WriteAllTextAsync(path, config);
        var lines = new StringBuilder();
        var router = Processes.Start(Kit.RouterExecutable, ["--config", path], folder, null, line => { lock (lines) lines.AppendLine(line); });
        routers.Add(router);
        await WaitForAsync(() =>
        {
            lock (lines)
            {
                return Task.FromResult(router.HasExited || lines.ToString().Contains("ready; API on", StringComparison.Ordinal));
            }
        }, TimeSpan.FromSeconds(30), "the router to start");
        Assert.False(router.HasExited, $"the router exited with {(router.HasExited ? router.ExitCode : 0)}:\n{Processes.Tail(lines)}");
        output.WriteLine($"router in {folder} started");
        return Path.Combine(folder, "router.sock");
    }

    private static async Task<JsonElement> StatusAsync(string api)
    {
        var result = await RouterCliAsync("status", "--json", "--api", api);
        Assert.True(result.ExitCode == 0, $"router status failed: {result.Output}");
        return JsonDocument.Parse(result.Stdout).RootElement;
    }

    private static Task WaitForPeerUpAsync(string api, string address) =>
        WaitForAsync(async () => (await StatusAsync(api)).GetProperty("peers").EnumerateArray()
            .Any(p => p.GetProperty("address").GetString() == address && p.GetProperty("state").GetString() == "up" && p.GetProperty("netmod").GetString() == "kit-link"),
            TimeSpan.FromSeconds(30), $"peer {address} up over kit-link");

    private static async Task SendAndReceiveAsync(string from, string to, string toAddress, string text, string received)
    {
        var lines = new StringBuilder();
        using var listen = Processes.Start(Kit.RouterExecutable, ["listen", "--api", to, "--out", received, "--count", "1"], Path.GetTempPath(), null, line => { lock (lines) lines.AppendLine(line); });
        try
        {
            await WaitForAsync(() => { lock (lines) return Task.FromResult(lines.ToString().Contains("listening", StringComparison.Ordinal) || listen.HasExited); }, TimeSpan.FromSeconds(20), "router listen to start");

            // The link is authenticated before routing hears of it; retry until the route exists.
            await WaitForAsync(async () => (await RouterCliAsync("send", "--api", from, "--to", toAddress, text)).ExitCode == 0, TimeSpan.FromSeconds(30), $"router send to {toAddress} to succeed");
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await listen.WaitForExitAsync(timeout.Token);
            Assert.True(listen.ExitCode == 0, $"router listen exited with {listen.ExitCode}:\n{Processes.Tail(lines)}");
        }
        finally
        {
            await Processes.StopAsync(listen, TimeSpan.FromSeconds(5));
        }

        Assert.Equal(Encoding.UTF8.GetBytes(text), await File.ReadAllBytesAsync(received));
    }

    private static Task<ProcessResult> RouterCliAsync(params string[] args) =>
        Processes.RunAsync(Kit.RouterExecutable, args, Path.GetTempPath(), TimeSpan.FromSeconds(60));

    private static async Task WaitForAsync(Func<Task<bool>> condition, TimeSpan timeout, string what)
    {
        var clock = Stopwatch.StartNew();
        while (!await condition())
        {
            if (clock.Elapsed > timeout)
            {
                throw new TimeoutException($"timed out after {timeout.TotalSeconds} s waiting for {what}");
            }

            await Task.Delay(200);
        }
    }

    [GeneratedRegex(@"Total(?: tests)?:\s+(\d+)")]
    private static partial Regex TotalTests();
}
