using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace Router.IntegrationTests;

/// <summary>What running the router as a service relies on: <c>--version</c> and the systemd unit in docs/.</summary>
public sealed class ServiceTests
{
    [Fact]
    public async Task Version_PrintsRouterAndSdkVersions_ExitsZero()
    {
        var result = await Cli.RunAsync("--version");

        Assert.Equal(0, result.ExitCode);
        Assert.Matches(@"^router \d+\.\d+\.\d+ \(build \d+\.\d+\.\d+\S*\), netmod SDK \d+\.\d+, \.NET \d+\.\d+\.\d+\S*\r?\n$", result.Stdout);
        Assert.Equal("", result.Stderr);
    }

    /// <summary>
    /// <c>systemd-analyze verify</c> on docs/router.service with ExecStart pointed at the built
    /// router (verify checks that the program exists). Any warning about the unit fails the test:
    /// systemd ignores unknown or misplaced keys with a warning and still exits 0.
    /// </summary>
    [SystemdAnalyzeFact]
    public async Task SystemdUnit_Verify_ReportsNoProblems()
    {
        var unit = await File.ReadAllTextAsync(Path.Combine(SourceRoot(), "docs", "router.service"));
        Assert.Contains("ExecStart=/opt/router/router --config /etc/router/router.json", unit, StringComparison.Ordinal);
        Assert.Contains("AmbientCapabilities=CAP_NET_ADMIN", unit, StringComparison.Ordinal);
        Assert.Contains("DeviceAllow=/dev/net/tun rw", unit, StringComparison.Ordinal);
        var folder = Directory.CreateTempSubdirectory("unit-");
        try
        {
            var path = Path.Combine(folder.FullName, "router.service");
            await File.WriteAllTextAsync(path, unit.Replace("/opt/router/router", RouterBinary.Executable, StringComparison.Ordinal));
            var start = new ProcessStartInfo(SystemdAnalyzeFactAttribute.Program) { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var arg in new[] { "verify", "--man=no", path })
            {
                start.ArgumentList.Add(arg);
            }

            using var process = Process.Start(start)!;
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            try
            {
                await process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill();
                throw;
            }

            var about = (await stdout + await stderr).Split('\n').Where(l => l.Contains("router.service", StringComparison.Ordinal)).ToList();
            Assert.True(process.ExitCode == 0 && about.Count == 0, $"systemd-analyze verify exited {process.ExitCode}:\n{string.Join('\n', about)}\n{await stderr}");
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    /// <summary>The repository this test was compiled from (the test binaries may be built elsewhere, with --artifacts-path).</summary>
    private static string SourceRoot([CallerFilePath] string path = "") => Path.GetFullPath(Path.Combine(Path.GetDirectoryName(path)!, "..", ".."));
}

/// <summary>A test that needs <c>systemd-analyze</c>; skipped, saying so, where it is not installed.</summary>
public sealed class SystemdAnalyzeFactAttribute : FactAttribute
{
    public static readonly string Program = (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin")
        .Split(':', StringSplitOptions.RemoveEmptyEntries)
        .Select(dir => Path.Combine(dir, "systemd-analyze"))
        .FirstOrDefault(File.Exists) ?? "systemd-analyze";

    public SystemdAnalyzeFactAttribute()
    {
        if (!File.Exists(Program))
        {
            Skip = "systemd-analyze is not installed (Debian: apt-get install systemd)";
        }
    }
}
