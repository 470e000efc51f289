using System.Collections.Concurrent;
using System.Diagnostics;

namespace Router.IntegrationTests.Netns;

/// <summary>
/// An ordinary program (ping, curl, an HTTP server) run inside a test's network namespace with
/// <c>ip netns exec</c>, which execs it in place: the PID is the program's own, and it is
/// stopped by that PID when disposed.
/// </summary>
internal sealed class NetnsProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _lines = new();

    private NetnsProcess(Process process)
    {
        _process = process;
    }

    public string Output => string.Join('\n', _lines);

    public bool HasExited => _process.HasExited;

    /// <summary>Starts <paramref name="program"/> in <paramref name="netns"/>.</summary>
    public static NetnsProcess Start(string netns, string program, params string[] arguments)
    {
        var info = new ProcessStartInfo(Ip.Path)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in new[] { "netns", "exec", netns, Tool.Find(program) }.Concat(arguments))
        {
            info.ArgumentList.Add(argument);
        }

        var process = new Process { StartInfo = info };
        var started = new NetnsProcess(process);
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) started._lines.Enqueue(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) started._lines.Enqueue(e.Data); };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return started;
    }

    /// <summary>Runs <paramref name="program"/> in <paramref name="netns"/> to its end, at most <paramref name="timeout"/>.</summary>
    public static async Task<(int ExitCode, string Output)> RunAsync(string netns, TimeSpan timeout, string program, params string[] arguments)
    {
        await using var process = Start(netns, program, arguments);
        using var limit = new CancellationTokenSource(timeout);
        try
        {
            await process._process.WaitForExitAsync(limit.Token);
        }
        catch (OperationCanceledException)
        {
            return (-1, $"{program} did not finish within {timeout.TotalSeconds} s:\n{process.Output}");
        }

        // Let the output readers drain.
        process._process.WaitForExit();
        return (process._process.ExitCode, process.Output);
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }
}

/// <summary>A veth pair joining two test namespaces, one IPv4 address on each end (a /24).</summary>
internal static class Veth
{
    /// <summary>Creates <paramref name="nameA"/> in <paramref name="a"/> and <paramref name="nameB"/> in <paramref name="b"/>, addressed and up.</summary>
    public static async Task CreateAsync(NetworkNamespace a, string nameA, string addressA, NetworkNamespace b, string nameB, string addressB)
    {
        await Ip.RunAsync("link", "add", nameA, "netns", a.Name, "type", "veth", "peer", "name", nameB, "netns", b.Name);
        await Ip.RunAsync("-n", a.Name, "addr", "add", addressA + "/24", "dev", nameA);
        await Ip.RunAsync("-n", b.Name, "addr", "add", addressB + "/24", "dev", nameB);
        await Ip.RunAsync("-n", a.Name, "link", "set", nameA, "up");
        await Ip.RunAsync("-n", b.Name, "link", "set", nameB, "up");
    }
}
