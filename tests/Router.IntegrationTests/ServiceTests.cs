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
        Assert.Matches(@"^router \d+\.\d+\.\d+ \(build \d+\.\d+\.\d+\S*\), netmod SDK \d+\.\d+, AES-256-GCM from (libsodium|OpenSSL), \.NET \d+\.\d+\.\d+\S*\r?\n$", result.Stdout);
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

    /// <summary>
    /// The install steps publish the router (docs/operations.md): the published folder must hold
    /// the netmods in plugins/, so a router started from it finds inet and udp. Built with its
    /// own artifacts folder so the repository's build, which other tests run, is not touched.
    /// </summary>
    [Fact]
    public async Task Publish_CarriesThePluginsFolder_ThePublishedRouterFindsItsNetmods()
    {
        var folder = Directory.CreateTempSubdirectory("publish-");
        try
        {
            var output = Path.Combine(folder.FullName, "out");
            var publish = await RunAsync(
                "dotnet",
                ["publish", Path.Combine(SourceRoot(), "router", "Router.csproj"), "-c", "Release", "-o", output, "--artifacts-path", Path.Combine(folder.FullName, "artifacts"), "-nologo", "--disable-build-servers"],
                TimeSpan.FromMinutes(5));
            Assert.True(publish.ExitCode == 0, $"dotnet publish failed:\n{publish.Output}");
            Assert.True(File.Exists(Path.Combine(output, "plugins", "inet", "inet.dll")), publish.Output);
            Assert.True(File.Exists(Path.Combine(output, "plugins", "udp", "udp.deps.json")), publish.Output);

            var config = Path.Combine(folder.FullName, "router.json");
            await File.WriteAllTextAsync(config, """{ "Netmods": { "inet": { "Listen": ["127.0.0.1:0"] }, "udp": { "Enabled": true, "Listen": ["127.0.0.1:0"], "Discovery": false } } }""");
            var check = await RunAsync(Path.Combine(output, "router"), ["--config", config, "--check"], TimeSpan.FromSeconds(60));
            Assert.True(check.ExitCode == 0, check.Output);
            Assert.Contains("configuration is valid; netmods enabled: inet, udp", check.Output, StringComparison.Ordinal);
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    private static async Task<(int ExitCode, string Output)> RunAsync(string program, IEnumerable<string> args, TimeSpan limit)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(limit);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{program} {string.Join(' ', start.ArgumentList)} did not finish in {limit}");
        }

        return (process.ExitCode, await stdout + await stderr);
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
