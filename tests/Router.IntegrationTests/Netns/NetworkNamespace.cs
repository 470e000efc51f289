using System.Diagnostics;

namespace Router.IntegrationTests.Netns;

/// <summary>
/// A network namespace the test creates for itself (loopback up, nothing else), removed on
/// dispose together with everything in it. Routers run inside with
/// <see cref="RouterProcess"/>'s <c>netns</c> argument; faults are injected with nftables.
/// </summary>
internal sealed class NetworkNamespace : IAsyncDisposable
{
    private static int s_count;

    private NetworkNamespace(string name)
    {
        Name = name;
    }

    public string Name { get; }

    /// <summary>Creates <c>rt-PREFIX-PID-N</c> with loopback up.</summary>
    public static async Task<NetworkNamespace> CreateAsync(string prefix)
    {
        var n = Interlocked.Increment(ref s_count);
        var ns = new NetworkNamespace($"rt-{prefix}-{Environment.ProcessId}-{n}");
        try
        {
            await Ip.RunAsync("netns", "add", ns.Name);
            await Ip.RunAsync("-n", ns.Name, "link", "set", "lo", "up");
            return ns;
        }
        catch
        {
            await ns.DisposeAsync();
            throw;
        }
    }

    /// <summary>Replaces this namespace's nftables rules with <paramref name="ruleset"/> (nft syntax).</summary>
    public Task SetFirewallAsync(string ruleset) =>
        Ip.RunAsync(["netns", "exec", Name, Nft.Path, "-f", "-"], stdin: "flush ruleset\n" + ruleset);

    public Task ClearFirewallAsync() => SetFirewallAsync(string.Empty);

    public async ValueTask DisposeAsync() => await Ip.TryRunAsync(["netns", "del", Name]);
}

/// <summary>Runs iproute2's <c>ip</c>, bounded in time.</summary>
internal static class Ip
{
    public static string Path { get; } = Tool.Find("ip");

    public static async Task<string> RunAsync(params string[] arguments) => await RunAsync(arguments, stdin: null);

    public static async Task<string> RunAsync(string[] arguments, string? stdin)
    {
        var (code, output, error) = await TryRunAsync(arguments, stdin);
        return code == 0 ? output : throw new InvalidOperationException($"ip {string.Join(' ', arguments)} failed ({code}): {error}");
    }

    public static async Task<(int Code, string Output, string Error)> TryRunAsync(string[] arguments, string? stdin = null)
    {
        var info = new ProcessStartInfo(Path)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = stdin is not null,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        using var process = Process.Start(info) ?? throw new InvalidOperationException($"cannot run {Path}");
        if (stdin is not null)
        {
            await process.StandardInput.WriteAsync(stdin);
            process.StandardInput.Close();
        }

        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"ip {string.Join(' ', arguments)} did not finish within 10 s");
        }

        return (process.ExitCode, await output, await error);
    }
}

internal static class Nft
{
    public static string Path { get; } = Tool.Find("nft");
}

internal static class Tool
{
    /// <summary>The tool's full path in the usual system folders, or its bare name.</summary>
    public static string Find(string name) =>
        new[] { "/usr/sbin", "/sbin", "/usr/bin", "/bin" }.Select(dir => System.IO.Path.Combine(dir, name)).FirstOrDefault(File.Exists) ?? name;
}

/// <summary>
/// A test that creates network namespaces and firewall rules: needs Linux, root, iproute2 and
/// nftables (CI runs as root and installs both); skipped with the reason otherwise.
/// </summary>
public sealed class NetnsFactAttribute : FactAttribute
{
    private static readonly Lazy<string?> SkipReason = new(Probe);

    public NetnsFactAttribute()
    {
        if (SkipReason.Value is { } reason)
        {
            Skip = reason;
        }
    }

    private static string? Probe()
    {
        if (!OperatingSystem.IsLinux())
        {
            return "network namespaces are Linux only";
        }

        if (Environment.UserName != "root")
        {
            return $"needs root to create network namespaces (running as {Environment.UserName})";
        }

        if (!File.Exists(Ip.Path))
        {
            return "needs iproute2 (ip) to create network namespaces";
        }

        return File.Exists(Nft.Path) ? null : "needs nftables (nft) to inject link faults";
    }
}
