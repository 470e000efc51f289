using System.Diagnostics;
using System.Threading.Channels;
using Router.Sdk;

namespace Router.Netmods.Udp.Tests;

/// <summary>
/// LAN discovery for real: two network namespaces joined by a veth pair, one small router
/// process (<see cref="NetnsHost"/>) in each, discovery on and no peers configured. Each must
/// report the other Up. Needs root and iproute2; skipped with the reason otherwise.
/// </summary>
public sealed class NetnsTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);

    [NetnsFact]
    public async Task Discovery_TwoNamespacesOverVeth_FindEachOtherByIPv6Multicast()
    {
        await using var net = await VethPair.CreateAsync(ipv6: true);
        var a = NetmodTestContext.RandomAddress();
        var b = NetmodTestContext.RandomAddress();
        await using var hostA = HostProcess.Start(net.NamespaceA, a, "[::]:5861");
        await using var hostB = HostProcess.Start(net.NamespaceB, b, "[::]:5861");

        var seenByA = await hostA.WaitForUpAsync(b, Deadline);
        var seenByB = await hostB.WaitForUpAsync(a, Deadline);

        // Found over the veth's IPv6 link-local addresses, on the advertised link port.
        Assert.StartsWith("[fe80::", seenByA, StringComparison.Ordinal);
        Assert.EndsWith("]:5861", seenByA, StringComparison.Ordinal);
        Assert.StartsWith("[fe80::", seenByB, StringComparison.Ordinal);
    }

    [NetnsFact]
    public async Task Discovery_NamespacesWithoutIPv6_FindEachOtherByIPv4Broadcast()
    {
        await using var net = await VethPair.CreateAsync(ipv6: false);
        var a = NetmodTestContext.RandomAddress();
        var b = NetmodTestContext.RandomAddress();

        // The default dual-stack listen address still works where IPv6 is switched off.
        await using var hostA = HostProcess.Start(net.NamespaceA, a, "[::]:5861");
        await using var hostB = HostProcess.Start(net.NamespaceB, b, "[::]:5861");

        var seenByA = await hostA.WaitForUpAsync(b, Deadline);
        var seenByB = await hostB.WaitForUpAsync(a, Deadline);

        Assert.Equal($"{net.AddressB}:5861", seenByA);
        Assert.Equal($"{net.AddressA}:5861", seenByB);
    }

    [NetnsFact]
    public async Task Discovery_LinkRemovedThenAddedAgain_HostsSurviveAndFindEachOtherAgain()
    {
        await using var net = await VethPair.CreateAsync(ipv6: true);
        var a = NetmodTestContext.RandomAddress();
        var b = NetmodTestContext.RandomAddress();
        await using var hostA = HostProcess.Start(net.NamespaceA, a, "[::]:5861");
        await using var hostB = HostProcess.Start(net.NamespaceB, b, "[::]:5861");
        await hostA.WaitForUpAsync(b, Deadline);
        await hostB.WaitForUpAsync(a, Deadline);

        // The interface the link ran over vanishes: silence, then Down (dead-peer timeout 3 s),
        // and the re-scans drop it without upsetting anything.
        await net.RemoveLinkAsync();
        await hostA.WaitForLineAsync($"DOWN {b} ", Deadline);
        await hostB.WaitForLineAsync($"DOWN {a} ", Deadline);

        // A new veth (new index, new link-local addresses): the re-scans join the group on it.
        await net.AddLinkAsync(ipv6: true);
        await hostA.WaitForUpAsync(b, Deadline);
        await hostB.WaitForUpAsync(a, Deadline);
        Assert.False(hostA.HasExited);
        Assert.False(hostB.HasExited);
    }

    /// <summary>Two fresh namespaces and a veth pair between them, all removed on dispose.</summary>
    private sealed class VethPair : IAsyncDisposable
    {
        private static int s_count;

        private VethPair(string tag, string subnet)
        {
            NamespaceA = $"udpt-{tag}-a";
            NamespaceB = $"udpt-{tag}-b";
            LinkA = $"vu{tag}a";
            LinkB = $"vu{tag}b";
            AddressA = $"{subnet}.1";
            AddressB = $"{subnet}.2";
        }

        public string NamespaceA { get; }

        public string NamespaceB { get; }

        public string LinkA { get; }

        public string LinkB { get; }

        public string AddressA { get; }

        public string AddressB { get; }

        public static async Task<VethPair> CreateAsync(bool ipv6)
        {
            // Unique per process and per test, short enough for an interface name (15 chars).
            var n = Interlocked.Increment(ref s_count);
            var tag = $"{Environment.ProcessId % 100000:x5}{n:x2}";
            var pair = new VethPair(tag, $"10.{200 + (n % 50)}.{Environment.ProcessId % 250}");
            try
            {
                foreach (var ns in new[] { pair.NamespaceA, pair.NamespaceB })
                {
                    await Ip.RunAsync($"netns add {ns}");
                    var sysctl = ipv6
                        ? "net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0"
                        : "net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1";

                    // Before the veth exists, so it is created with these settings: no duplicate
                    // address detection holding the link-local address back, or no IPv6 at all.
                    await Ip.RunAsync($"netns exec {ns} sysctl -qw {sysctl}");
                    await Ip.RunAsync($"-n {ns} link set lo up");
                }

                await pair.AddLinkAsync(ipv6);
                return pair;
            }
            catch
            {
                await pair.DisposeAsync();
                throw;
            }
        }

        /// <summary>Creates the veth pair and brings it up (again, after <see cref="RemoveLinkAsync"/>).</summary>
        public async Task AddLinkAsync(bool ipv6)
        {
            await Ip.RunAsync($"link add {LinkA} netns {NamespaceA} type veth peer name {LinkB} netns {NamespaceB}");
            if (!ipv6)
            {
                await Ip.RunAsync($"-n {NamespaceA} addr add {AddressA}/24 dev {LinkA}");
                await Ip.RunAsync($"-n {NamespaceB} addr add {AddressB}/24 dev {LinkB}");
            }

            await Ip.RunAsync($"-n {NamespaceA} link set {LinkA} up");
            await Ip.RunAsync($"-n {NamespaceB} link set {LinkB} up");
            if (ipv6)
            {
                await WaitForLinkLocalAsync(NamespaceA, LinkA);
                await WaitForLinkLocalAsync(NamespaceB, LinkB);
            }
        }

        /// <summary>Deletes the veth pair (deleting one end deletes both).</summary>
        public Task RemoveLinkAsync() => Ip.RunAsync($"-n {NamespaceA} link del {LinkA}");

        public async ValueTask DisposeAsync()
        {
            // Deleting a namespace deletes its end of the veth, and with it the other end.
            await Ip.TryRunAsync($"netns del {NamespaceA}");
            await Ip.TryRunAsync($"netns del {NamespaceB}");
        }

        private async Task WaitForLinkLocalAsync(string ns, string link)
        {
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
            while (true)
            {
                var output = await Ip.RunAsync($"-n {ns} -6 addr show dev {link} scope link");
                if (output.Contains("fe80::", StringComparison.Ordinal) && !output.Contains("tentative", StringComparison.Ordinal))
                {
                    return;
                }

                if (DateTime.UtcNow > deadline)
                {
                    throw new TimeoutException($"{link} in {ns} has no usable link-local address: {output}");
                }

                await Task.Delay(50);
            }
        }
    }

    /// <summary>A <see cref="NetnsHost"/> process inside a namespace; disposing ends it.</summary>
    private sealed class HostProcess : IAsyncDisposable
    {
        private readonly Process _process;
        private readonly Channel<string> _lines = Channel.CreateUnbounded<string>();
        private readonly List<string> _transcript = [];

        private HostProcess(Process process, string ns)
        {
            _process = process;
            Namespace = ns;
        }

        public string Namespace { get; }

        public static HostProcess Start(string ns, RouterAddress address, string listen)
        {
            var dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? Environment.ProcessPath ?? "dotnet";
            var info = new ProcessStartInfo(Ip.Path)
            {
                RedirectStandardInput = true,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            foreach (var arg in new[] { "netns", "exec", ns, dotnet, typeof(NetnsHost).Assembly.Location, NetnsHost.Command, address.ToString(), listen, "30" })
            {
                info.ArgumentList.Add(arg);
            }

            var process = new Process { StartInfo = info };
            var host = new HostProcess(process, ns);
            process.OutputDataReceived += (_, e) => host.Add(e.Data, stdout: true);
            process.ErrorDataReceived += (_, e) => host.Add(e.Data, stdout: false);
            process.Start();
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            return host;
        }

        public bool HasExited => _process.HasExited;

        /// <summary>Waits for an UP line naming <paramref name="address"/>; returns the remote endpoint it names.</summary>
        public Task<string> WaitForUpAsync(RouterAddress address, TimeSpan timeout) => WaitForLineAsync($"UP {address} ", timeout);

        /// <summary>Waits for a line starting with <paramref name="prefix"/>; returns the rest of it.</summary>
        public async Task<string> WaitForLineAsync(string prefix, TimeSpan timeout)
        {
            using var cts = new CancellationTokenSource(timeout);
            try
            {
                while (true)
                {
                    var line = await _lines.Reader.ReadAsync(cts.Token);
                    if (line.StartsWith(prefix, StringComparison.Ordinal))
                    {
                        return line[prefix.Length..];
                    }
                }
            }
            catch (Exception e) when (e is OperationCanceledException or ChannelClosedException)
            {
                string transcript;
                lock (_transcript)
                {
                    transcript = string.Join('\n', _transcript);
                }

                throw new TimeoutException($"the router in {Namespace} printed no '{prefix}' line within {timeout.TotalSeconds} s. Its output:\n{transcript}");
            }
        }

        public async ValueTask DisposeAsync()
        {
            try
            {
                // Closing stdin asks it to stop; the kill is for a process that does not.
                _process.StandardInput.Close();
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                await _process.WaitForExitAsync(cts.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or InvalidOperationException or IOException)
            {
                if (!_process.HasExited)
                {
                    _process.Kill(entireProcessTree: true);
                }
            }
            finally
            {
                _process.Dispose();
            }
        }

        private void Add(string? line, bool stdout)
        {
            if (line is null)
            {
                if (stdout)
                {
                    _lines.Writer.TryComplete();
                }

                return;
            }

            lock (_transcript)
            {
                _transcript.Add(line);
            }

            if (stdout)
            {
                _lines.Writer.TryWrite(line);
            }
        }
    }
}

/// <summary>The ip command (iproute2).</summary>
internal static class Ip
{
    public static string Path { get; } = new[] { "/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip" }.FirstOrDefault(File.Exists) ?? "ip";

    /// <summary>Runs <c>ip ARGS</c>; returns its stdout or throws with its stderr. Bounded to 10 s.</summary>
    public static async Task<string> RunAsync(string arguments)
    {
        var (code, output, error) = await TryRunAsync(arguments);
        return code == 0 ? output : throw new InvalidOperationException($"ip {arguments} failed ({code}): {error}");
    }

    public static async Task<(int Code, string Output, string Error)> TryRunAsync(string arguments)
    {
        var info = new ProcessStartInfo(Path, arguments)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"cannot run {Path}");
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"ip {arguments} did not finish within 10 s");
        }

        return (process.ExitCode, await output, await error);
    }
}

/// <summary>
/// A fact that needs network namespaces: skipped, with the reason, when not running as root,
/// when iproute2 is missing, or when <c>ip netns add</c> does not work here (a container
/// without the capability).
/// </summary>
[AttributeUsage(AttributeTargets.Method)]
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
            return "the ip command (iproute2) is not installed";
        }

        var name = $"udpt-probe-{Environment.ProcessId}";
        try
        {
            var (code, _, error) = Ip.TryRunAsync($"netns add {name}").GetAwaiter().GetResult();
            if (code != 0)
            {
                return $"'ip netns add' does not work here: {error.Trim()}";
            }

            Ip.TryRunAsync($"netns del {name}").GetAwaiter().GetResult();
            return null;
        }
        catch (Exception e)
        {
            return $"'ip netns add' does not work here: {e.Message}";
        }
    }
}
