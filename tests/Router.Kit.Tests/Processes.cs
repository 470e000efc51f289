using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;

namespace Router.Kit.Tests;

/// <summary>A finished process: its exit code, everything it wrote (stdout and stderr, in order), and its stdout alone.</summary>
internal sealed record ProcessResult(int ExitCode, string Output, string Stdout);

/// <summary>
/// Runs the tools the kit test drives — dotnet and the router — as child processes, each
/// bounded in time and stopped by its own PID (with its children) when it overruns.
/// </summary>
internal static partial class Processes
{
    /// <summary>
    /// Runs <paramref name="file"/> to completion; on timeout kills it and throws with its output.
    /// </summary>
    public static async Task<ProcessResult> RunAsync(string file, IEnumerable<string> args, string workingDirectory, TimeSpan timeout, IReadOnlyDictionary<string, string>? environment = null)
    {
        var output = new StringBuilder();
        var stdout = new StringBuilder();
        using var process = Start(
            file, args, workingDirectory, environment,
            line => { lock (output) output.AppendLine(line); },
            line => { lock (output) { output.AppendLine(line); stdout.AppendLine(line); } });
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync(CancellationToken.None);
            throw new TimeoutException($"{Path.GetFileName(file)} {string.Join(' ', args)} did not finish within {timeout.TotalSeconds} s:\n{Tail(output)}");
        }

        process.WaitForExit(); // drains the output callbacks
        lock (output)
        {
            return new ProcessResult(process.ExitCode, output.ToString(), stdout.ToString());
        }
    }

    /// <summary>Starts a process whose every output line goes to <paramref name="onLine"/> (stdout lines to <paramref name="onStdout"/> instead, when given).</summary>
    public static Process Start(string file, IEnumerable<string> args, string workingDirectory, IReadOnlyDictionary<string, string>? environment, Action<string> onLine, Action<string>? onStdout = null)
    {
        var start = new ProcessStartInfo(file)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        // The test host's MSBuild and router settings must not leak into the tools it runs.
        foreach (var key in start.Environment.Keys.Where(k =>
            k.StartsWith("MSBUILD", StringComparison.OrdinalIgnoreCase) || k.StartsWith("ROUTER__", StringComparison.Ordinal) || k.StartsWith("VSTEST", StringComparison.Ordinal)).ToList())
        {
            start.Environment.Remove(key);
        }

        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        start.Environment["DOTNET_SYSTEM_CONSOLE_ALLOW_ANSI_COLOR_REDIRECTION"] = "false";
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[key] = value;
        }

        var process = new Process { StartInfo = start };
        var stdout = onStdout ?? onLine;
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) stdout(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) onLine(e.Data); };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    /// <summary>Asks a process to stop (SIGTERM) and kills it if it has not exited within <paramref name="grace"/>.</summary>
    public static async Task StopAsync(Process process, TimeSpan grace)
    {
        if (process.HasExited)
        {
            return;
        }

        _ = Kill(process.Id, Sigterm);
        using var cts = new CancellationTokenSource(grace);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync(CancellationToken.None);
        }
    }

    /// <summary>The last lines of some output, for failure messages.</summary>
    public static string Tail(StringBuilder output, int lines = 60)
    {
        lock (output)
        {
            return string.Join('\n', output.ToString().Split('\n').TakeLast(lines));
        }
    }

    private const int Sigterm = 15;

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
