using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Threading.Channels;

namespace Router.Netmods.Tun.Tests;

/// <summary>
/// A network namespace of the test's own (<c>ip netns add</c>), removed on dispose. Code runs
/// inside it on a dedicated thread that joins it with setns(2) first (thread-pool threads
/// never change namespace); programs run inside it with <c>ip netns exec</c>.
/// </summary>
internal sealed partial class NetworkNamespace : IAsyncDisposable
{
    private const int CloneNewNet = 0x40000000;
    private static int s_count;

    private NetworkNamespace(string name) => Name = name;

    public string Name { get; }

    /// <summary>Creates a namespace with a unique name, its loopback up.</summary>
    public static async Task<NetworkNamespace> CreateAsync()
    {
        var ns = new NetworkNamespace($"tunt-{Environment.ProcessId:x}-{Interlocked.Increment(ref s_count)}");
        await Ip.RunAsync($"netns add {ns.Name}");
        try
        {
            await Ip.RunAsync($"-n {ns.Name} link set lo up");
        }
        catch
        {
            await ns.DisposeAsync();
            throw;
        }

        return ns;
    }

    /// <summary>Runs <c>ip -n NAME ARGS</c>; returns stdout or throws with stderr.</summary>
    public Task<string> IpAsync(string arguments) => Ip.RunAsync($"-n {Name} {arguments}");

    /// <summary>Runs <c>ip -n NAME -j ARGS</c> and parses the JSON array it prints.</summary>
    public async Task<JsonElement[]> IpJsonAsync(string arguments)
    {
        var output = await Ip.RunAsync($"-n {Name} -j {arguments}");
        return string.IsNullOrWhiteSpace(output) ? [] : [.. JsonDocument.Parse(output).RootElement.EnumerateArray()];
    }

    /// <summary>Runs <paramref name="action"/> on a new thread inside this namespace.</summary>
    public Task<T> RunInsideAsync<T>(Func<T> action, Action? beforeAction = null)
    {
        var result = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            try
            {
                using (var handle = File.OpenHandle($"/var/run/netns/{Name}"))
                {
                    if (SetNs((int)handle.DangerousGetHandle(), CloneNewNet) != 0)
                    {
                        throw new IOException($"setns into {Name} failed: errno {Marshal.GetLastPInvokeError()}");
                    }
                }

                beforeAction?.Invoke();
                result.SetResult(action());
            }
            catch (Exception e)
            {
                result.SetException(e);
            }
        })
        {
            IsBackground = true,
            Name = $"in {Name}",
        };
        thread.Start();
        return result.Task;
    }

    /// <summary>Runs a program inside the namespace to completion, within <paramref name="timeout"/>; returns exit code and output.</summary>
    public async Task<(int Code, string Output)> ExecAsync(TimeSpan timeout, params string[] command)
    {
        await using var process = Start(command);
        return (await process.WaitForExitAsync(timeout), process.Transcript);
    }

    /// <summary>Starts a program inside the namespace.</summary>
    public NamespaceProcess Start(params string[] command) => NamespaceProcess.Start(Name, command);

    public async ValueTask DisposeAsync() => await Ip.TryRunAsync($"netns del {Name}");

    [LibraryImport("libc", EntryPoint = "setns", SetLastError = true)]
    private static partial int SetNs(int fd, int nsType);
}

/// <summary>A program started with <c>ip netns exec</c>; its output lines can be awaited, and disposing kills it by its PID if still running.</summary>
internal sealed class NamespaceProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly Channel<string> _lines = Channel.CreateUnbounded<string>();
    private readonly List<string> _transcript = [];

    private NamespaceProcess(Process process) => _process = process;

    /// <summary>Every line printed so far, stdout and stderr.</summary>
    public string Transcript
    {
        get
        {
            lock (_transcript)
            {
                return string.Join('\n', _transcript);
            }
        }
    }

    public static NamespaceProcess Start(string ns, string[] command)
    {
        var info = new ProcessStartInfo(Ip.Path)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in (string[])["netns", "exec", ns, .. command])
        {
            info.ArgumentList.Add(argument);
        }

        var process = new Process { StartInfo = info };
        var wrapper = new NamespaceProcess(process);
        process.OutputDataReceived += (_, e) => wrapper.Add(e.Data, stdout: true);
        process.ErrorDataReceived += (_, e) => wrapper.Add(e.Data, stdout: false);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return wrapper;
    }

    /// <summary>Waits for the program to exit; returns its exit code, or throws <see cref="TimeoutException"/> (and kills it).</summary>
    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            Kill();
            throw new TimeoutException($"{_process.StartInfo.ArgumentList[3]} did not finish within {timeout.TotalSeconds} s. Its output:\n{Transcript}");
        }

        return _process.ExitCode;
    }

    /// <summary>Waits for a stdout line starting with <paramref name="prefix"/>; returns it.</summary>
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
                    return line;
                }
            }
        }
        catch (Exception e) when (e is OperationCanceledException or ChannelClosedException)
        {
            throw new TimeoutException($"no '{prefix}' line within {timeout.TotalSeconds} s. Output:\n{Transcript}");
        }
    }

    public async ValueTask DisposeAsync()
    {
        Kill();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        await _process.WaitForExitAsync(cts.Token).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _process.Dispose();
    }

    private void Kill()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }
        }
        catch (InvalidOperationException)
        {
            // Exited in between.
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

/// <summary>The ip command (iproute2): the tests' view of the kernel, independent of the netmod's netlink code.</summary>
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
/// A fact that needs root and network namespaces: skipped, with the reason, when not running as
/// root, without /dev/net/tun or iproute2, or where <c>ip netns add</c> does not work (a
/// container without the capability). CI runs as root, so there they run.
/// </summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class RootFactAttribute : FactAttribute
{
    public RootFactAttribute()
    {
        if (RootTheoryAttribute.SkipReason.Value is { } reason)
        {
            Skip = reason;
        }
    }
}

/// <summary>As <see cref="RootFactAttribute"/>, for theories.</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class RootTheoryAttribute : TheoryAttribute
{
    internal static readonly Lazy<string?> SkipReason = new(Probe);

    public RootTheoryAttribute()
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
            return "TUN devices and network namespaces are Linux only";
        }

        if (Environment.UserName != "root")
        {
            return $"needs root to create TUN devices and network namespaces (running as {Environment.UserName})";
        }

        if (!File.Exists("/dev/net/tun"))
        {
            return "there is no /dev/net/tun here";
        }

        if (!File.Exists(Ip.Path))
        {
            return "the ip command (iproute2) is not installed";
        }

        var name = $"tunt-probe-{Environment.ProcessId}";
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
