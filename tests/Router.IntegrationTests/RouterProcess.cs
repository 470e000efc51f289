using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using Router.IntegrationTests.Netns;

namespace Router.IntegrationTests;

/// <summary>
/// One real <c>router --config FILE</c> process. Output is captured; the process is stopped
/// by its own PID (SIGTERM, then SIGKILL after a bound) when the test ends.
/// </summary>
internal sealed partial class RouterProcess : IAsyncDisposable
{
    private readonly ConcurrentQueue<string> _lines = new();
    private Process? _process;

    /// <param name="configPath">The router's config file; its folder holds the key and API socket.</param>
    /// <param name="netns">A network namespace to run the router in (created by the test), or null.</param>
    public RouterProcess(string configPath, string? netns = null)
    {
        ConfigPath = configPath;
        Netns = netns;
    }

    public string? Netns { get; }

    public string ConfigPath { get; }

    public string ApiSocket => Path.Combine(Path.GetDirectoryName(ConfigPath)!, "router.sock");

    public string Output => string.Join('\n', _lines);

    public bool HasExited => _process?.HasExited ?? true;

    public int? ExitCode => _process is { HasExited: true } p ? p.ExitCode : null;

    /// <summary>The router's process id while it runs (to signal it).</summary>
    public int? Pid => _process is { HasExited: false } p ? p.Id : null;

    /// <summary>Starts the router and waits until it says it is ready (or exits).</summary>
    public async Task StartAsync(params string[] extraArgs)
    {
        _lines.Clear();
        _process = RouterBinary.Start(["--config", ConfigPath, .. extraArgs], line => _lines.Enqueue(line), Netns);
        await WaitForAsync(() => Output.Contains("ready; API on", StringComparison.Ordinal) || _process.HasExited, TimeSpan.FromSeconds(30), "router to start");
        if (_process.HasExited)
        {
            Assert.Fail($"router exited with {_process.ExitCode}:\n{Output}");
        }
    }

    /// <summary>Runs the router to completion (for commands that should exit, like --check).</summary>
    public async Task<int> RunToExitAsync(params string[] extraArgs)
    {
        _process = RouterBinary.Start(["--config", ConfigPath, .. extraArgs], line => _lines.Enqueue(line), Netns);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await _process.WaitForExitAsync(timeout.Token);
        return _process.ExitCode;
    }

    public async Task StopAsync()
    {
        if (_process is null || _process.HasExited)
        {
            return;
        }

        _ = Kill(_process.Id, Sigterm);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        try
        {
            await _process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
    }

    public async Task<string> AddressAsync()
    {
        var status = await StatusAsync();
        return status.GetProperty("address").GetString()!;
    }

    public async Task<JsonElement> StatusAsync()
    {
        var result = await Cli.RunAsync("status", "--json", "--api", ApiSocket);
        Assert.True(result.ExitCode == 0, $"router status failed: {result.Stderr}");
        return JsonDocument.Parse(result.Stdout).RootElement;
    }

    /// <summary>Waits until this router has a peer with the given address in state up.</summary>
    public Task WaitForPeerUpAsync(string address, TimeSpan timeout) =>
        WaitForAsync(async () => (await StatusAsync()).GetProperty("peers").EnumerateArray()
            .Any(p => p.GetProperty("address").GetString() == address && p.GetProperty("state").GetString() == "up"), timeout, $"peer {address} up");

    public async Task<JsonElement[]> RoutesAsync()
    {
        var result = await Cli.RunAsync("routes", "--json", "--api", ApiSocket);
        Assert.True(result.ExitCode == 0, $"router routes failed: {result.Stderr}");
        return JsonDocument.Parse(result.Stdout).RootElement.EnumerateArray().ToArray();
    }

    public async Task<bool> HasRouteAsync(string destination) =>
        (await RoutesAsync()).Any(r => r.GetProperty("destination").GetString() == destination);

    public Task WaitForNoPeerUpAsync(TimeSpan timeout) =>
        WaitForAsync(async () => !(await StatusAsync()).GetProperty("peers").EnumerateArray()
            .Any(p => p.GetProperty("state").GetString() == "up"), timeout, "all peers down");

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _process?.Dispose();
    }

    public static Task WaitForAsync(Func<bool> condition, TimeSpan timeout, string what) =>
        WaitForAsync(() => Task.FromResult(condition()), timeout, what);

    public static async Task WaitForAsync(Func<Task<bool>> condition, TimeSpan timeout, string what)
    {
        var deadline = Stopwatch.StartNew();
        while (!await condition())
        {
            if (deadline.Elapsed > timeout)
            {
                throw new TimeoutException($"timed out after {timeout.TotalSeconds} s waiting for {what}");
            }

            await Task.Delay(100);
        }
    }

    private const int Sigterm = 15;

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}

/// <summary>Locates the built router and runs it.</summary>
internal static class RouterBinary
{
    // Found on first use: test binaries built elsewhere (--artifacts-path) have no Router.sln above them.
    private static readonly Lazy<string> Root = new(FindRepoRoot);

    /// <summary>The repository root: the folder holding Router.sln above the test binaries.</summary>
    public static string RepoRoot => Root.Value;

    /// <summary>Debug or Release: the same configuration the tests were built in.</summary>
    public static string Configuration { get; } = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd('/')).Parent!.Name;

    /// <summary>
    /// The built router: <c>router/bin/CONFIG/net10.0</c> in the repository, or the folder named by
    /// <c>ROUTER_TEST_BINARY_DIR</c> (for builds elsewhere, e.g. with <c>--artifacts-path</c>).
    /// </summary>
    public static string Directory { get; } =
        Environment.GetEnvironmentVariable("ROUTER_TEST_BINARY_DIR") is { Length: > 0 } dir
            ? Path.GetFullPath(dir)
            : Path.Combine(RepoRoot, "router", "bin", Configuration, "net10.0");

    public static string Executable { get; } = Path.Combine(Directory, "router");

    public static string Plugins { get; } = Path.Combine(Directory, "plugins");

    /// <summary>
    /// Starts the router with <paramref name="args"/>; inside <paramref name="netns"/> when given
    /// (<c>ip netns exec</c> execs the router in place, so the PID is the router's own).
    /// </summary>
    public static Process Start(IEnumerable<string> args, Action<string> onLine, string? netns = null)
    {
        Assert.True(File.Exists(Executable), $"the router is not built at {Executable}");
        var start = new ProcessStartInfo(netns is null ? Executable : Ip.Path)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        if (netns is not null)
        {
            foreach (var arg in new[] { "netns", "exec", netns, Executable })
            {
                start.ArgumentList.Add(arg);
            }
        }

        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        // Keep the router's console plain and its environment free of the test runner's overrides.
        start.Environment["DOTNET_SYSTEM_CONSOLE_ALLOW_ANSI_COLOR_REDIRECTION"] = "false";
        foreach (var key in start.Environment.Keys.Where(k => k.StartsWith("ROUTER__", StringComparison.Ordinal)).ToList())
        {
            start.Environment.Remove(key);
        }

        var process = new Process { StartInfo = start };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) onLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) onLine(e.Data); };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Router.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("Router.sln not found above " + AppContext.BaseDirectory);
    }
}

/// <summary>Runs client subcommands (<c>router status</c>, <c>send</c>, ...) to completion.</summary>
internal static class Cli
{
    public sealed record Result(int ExitCode, string Stdout, string Stderr);

    public static async Task<Result> RunAsync(params string[] args)
    {
        var stdout = new StringBuilder();
        var stderr = new StringBuilder();
        using var process = new Process
        {
            StartInfo = new ProcessStartInfo(RouterBinary.Executable)
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            },
        };
        foreach (var arg in args)
        {
            process.StartInfo.ArgumentList.Add(arg);
        }

        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (stdout) stdout.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (stderr) stderr.AppendLine(e.Data); };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"router {string.Join(' ', args)} did not finish in 60 s");
        }

        process.WaitForExit();
        return new Result(process.ExitCode, stdout.ToString(), stderr.ToString());
    }

    /// <summary>Starts a long-running client (router listen) and returns the process.</summary>
    public static Process Start(Action<string> onLine, params string[] args) => RouterBinary.Start(args, onLine);
}

/// <summary>A folder of router configurations; each router gets its own subfolder (key, socket).</summary>
internal sealed class TestMesh : IDisposable
{
    public TestMesh()
    {
        Root = System.IO.Directory.CreateTempSubdirectory("rt-").FullName;
    }

    public string Root { get; }

    /// <summary>A free port for a router's TCP or UDP listener (see <see cref="TestPorts"/>).</summary>
    public static int FreePort() => TestPorts.Next();

    /// <summary>
    /// Writes NAME/config.json with one netmod (inet or udp) listening on 127.0.0.1:<paramref name="port"/>,
    /// peering with <paramref name="peerPorts"/>, with fast timers so tests are quick.
    /// </summary>
    public string Config(string name, int port, IEnumerable<int>? peerPorts = null, string? extraNetmods = null, string? pluginsDirectory = null, string? routerExtra = null, string netmod = "inet", double deadPeerSeconds = 3)
    {
        var dir = Path.Combine(Root, name);
        System.IO.Directory.CreateDirectory(dir);
        var peers = string.Join(", ", (peerPorts ?? []).Select(p => $"\"127.0.0.1:{p}\""));
        var plugins = (pluginsDirectory is null ? "" : $", \"PluginsDirectory\": {JsonSerializer.Serialize(pluginsDirectory)}") + routerExtra;
        var netmodExtra = netmod == "udp" ? ", \"Discovery\": false" : "";
        var json = $$"""
            {
              "Router": { "KeyFile": "router.key", "ApiSocket": "router.sock"{{plugins}} },
              "Netmods": {
                "{{netmod}}": {
                  "Enabled": true,
                  "Listen": ["127.0.0.1:{{port}}"],
                  "Peers": [{{peers}}],
                  "KeepaliveSeconds": 0.5,
                  "DeadPeerTimeoutSeconds": {{deadPeerSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture)}},
                  "ReconnectMinSeconds": 0.2,
                  "ReconnectMaxSeconds": 1{{netmodExtra}}
                }{{extraNetmods}}
              }
            }
            """;
        var path = Path.Combine(dir, "config.json");
        File.WriteAllText(path, json);
        return path;
    }

    public void Dispose()
    {
        try
        {
            System.IO.Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
