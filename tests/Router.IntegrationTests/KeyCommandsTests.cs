using System.Diagnostics;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Router.IntegrationTests;

/// <summary>
/// <c>router keygen</c> and <c>router address</c>: real processes, real files. The key file is
/// the one the router itself creates and checks, so a key made here is the router's identity.
/// </summary>
public sealed partial class KeyCommandsTests : IDisposable
{
    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    private readonly TestMesh _mesh = new();

    public void Dispose() => _mesh.Dispose();

    [Fact]
    public async Task Keygen_NewFile_CreatesAnOwnerOnlyKeyWhoseAddressAddressPrints()
    {
        var folder = Path.Combine(_mesh.Root, "not", "yet");
        var path = Path.Combine(folder, "router.key");

        var keygen = await Cli.RunAsync("keygen", "--out", path);

        Assert.True(keygen.ExitCode == 0, keygen.Stderr);
        var address = keygen.Stdout.Trim();
        Assert.Matches(AddressPattern(), address);
        Assert.Contains($"created key file {path}", keygen.Stderr, StringComparison.Ordinal);
        Assert.Equal(OwnerOnly, File.GetUnixFileMode(path));
        Assert.StartsWith("-----BEGIN PRIVATE KEY-----", await File.ReadAllTextAsync(path), StringComparison.Ordinal);
        Assert.Equal([path], Directory.GetFiles(folder));

        var shown = await Cli.RunAsync("address", "--key", path);
        Assert.True(shown.ExitCode == 0, shown.Stderr);
        Assert.Equal(address, shown.Stdout.Trim());

        var json = await Cli.RunAsync("address", "--key", path, "--json");
        Assert.True(json.ExitCode == 0, json.Stderr);
        var parsed = JsonDocument.Parse(json.Stdout).RootElement;
        Assert.Equal(address, parsed.GetProperty("address").GetString());
        Assert.Equal(path, parsed.GetProperty("keyFile").GetString());

        // fd6d::/16 followed by the first 14 bytes of the router address (docs/routing.md).
        var hex = address.Replace("-", "", StringComparison.Ordinal);
        var expected = System.Net.IPAddress.Parse("fd6d:" + string.Join(':', Enumerable.Range(0, 7).Select(i => hex.Substring(i * 4, 4))));
        Assert.Equal(expected, System.Net.IPAddress.Parse(parsed.GetProperty("overlayAddress").GetString()!));
    }

    [Fact]
    public async Task Keygen_ExistingFile_IsRefusedWithoutForceAndReplacedWithIt()
    {
        var path = Path.Combine(_mesh.Root, "router.key");
        var first = await Cli.RunAsync("keygen", "--out", path);
        Assert.True(first.ExitCode == 0, first.Stderr);
        var original = await File.ReadAllTextAsync(path);

        var again = await Cli.RunAsync("keygen", "--out", path);

        Assert.Equal(1, again.ExitCode);
        Assert.Contains("already exists", again.Stderr, StringComparison.Ordinal);
        Assert.Contains("--force", again.Stderr, StringComparison.Ordinal);
        Assert.Equal("", again.Stdout);
        Assert.Equal(original, await File.ReadAllTextAsync(path));

        var forced = await Cli.RunAsync("keygen", "--out", path, "--force", "--json");

        Assert.True(forced.ExitCode == 0, forced.Stderr);
        var address = JsonDocument.Parse(forced.Stdout).RootElement.GetProperty("address").GetString();
        Assert.NotEqual(first.Stdout.Trim(), address);
        Assert.Equal(OwnerOnly, File.GetUnixFileMode(path));
        Assert.Equal(address, (await Cli.RunAsync("address", "--key", path)).Stdout.Trim());
        Assert.Equal([path], Directory.GetFiles(_mesh.Root));
    }

    [Theory]
    [InlineData(UnixFileMode.GroupRead, "0640")]
    [InlineData(UnixFileMode.OtherRead, "0604")]
    public async Task Address_KeyFileReadableByGroupOrOthers_IsRefusedWithTheFix(UnixFileMode extra, string octal)
    {
        var path = Path.Combine(_mesh.Root, "router.key");
        Assert.Equal(0, (await Cli.RunAsync("keygen", "--out", path)).ExitCode);
        File.SetUnixFileMode(path, OwnerOnly | extra);

        var shown = await Cli.RunAsync("address", "--key", path);

        Assert.Equal(1, shown.ExitCode);
        Assert.Equal("", shown.Stdout);
        Assert.Contains($"(mode {octal})", shown.Stderr, StringComparison.Ordinal);
        Assert.Contains($"chmod 600 {path}", shown.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Address_MissingKeyFile_SaysHowToCreateOne()
    {
        var path = Path.Combine(_mesh.Root, "missing.key");

        var shown = await Cli.RunAsync("address", "--key", path);

        Assert.Equal(1, shown.ExitCode);
        Assert.Contains("does not exist", shown.Stderr, StringComparison.Ordinal);
        Assert.Contains($"router keygen --out {path}", shown.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Address_KeyAndConfigTogether_IsAnError()
    {
        var config = _mesh.Config("a", TestMesh.FreePort());

        var shown = await Cli.RunAsync("address", "--key", Path.Combine(_mesh.Root, "a", "router.key"), "--config", config);

        Assert.Equal(1, shown.ExitCode);
        Assert.Contains("not both", shown.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Keygen_WithConfig_WritesTheConfiguredKeyFileAndTheRouterRunsWithThatAddress()
    {
        var config = _mesh.Config("a", TestMesh.FreePort());
        var key = Path.Combine(_mesh.Root, "a", "router.key");

        var keygen = await Cli.RunAsync("keygen", "--config", config);

        Assert.True(keygen.ExitCode == 0, keygen.Stderr);
        var address = keygen.Stdout.Trim();
        Assert.Equal(OwnerOnly, File.GetUnixFileMode(key));
        Assert.Equal(address, (await Cli.RunAsync("address", "--config", config)).Stdout.Trim());

        await using var router = new RouterProcess(config);
        await router.StartAsync();
        Assert.Equal(address, await router.AddressAsync());
    }

    [Fact]
    public async Task Run_KeyFileReadableByGroup_RefusesToStart()
    {
        var config = _mesh.Config("a", TestMesh.FreePort());
        Assert.Equal(0, (await Cli.RunAsync("keygen", "--config", config)).ExitCode);
        var key = Path.Combine(_mesh.Root, "a", "router.key");
        File.SetUnixFileMode(key, OwnerOnly | UnixFileMode.GroupRead);

        await using var router = new RouterProcess(config);
        Assert.Equal(1, await router.RunToExitAsync());
        Assert.Contains("(mode 0640)", router.Output, StringComparison.Ordinal);
        Assert.Contains("chmod 600", router.Output, StringComparison.Ordinal);
        Assert.False(File.Exists(router.ApiSocket));
    }

    [Fact]
    public async Task Keygen_NoOptions_UsesPluginsJsonInTheCurrentFolderElseRouterKey()
    {
        var bare = Directory.CreateDirectory(Path.Combine(_mesh.Root, "bare")).FullName;
        var made = await RunInAsync(bare, "keygen");
        Assert.True(made.ExitCode == 0, made.Stderr);
        Assert.Equal(OwnerOnly, File.GetUnixFileMode(Path.Combine(bare, "router.key")));
        Assert.Equal(made.Stdout.Trim(), (await RunInAsync(bare, "address")).Stdout.Trim());

        // Like the client commands, ./plugins.json stands in for --config.
        var configured = Directory.CreateDirectory(Path.Combine(_mesh.Root, "configured")).FullName;
        await File.WriteAllTextAsync(Path.Combine(configured, "plugins.json"), """{ "Router": { "KeyFile": "keys/mine.key" } }""");
        var fromConfig = await RunInAsync(configured, "keygen");
        Assert.True(fromConfig.ExitCode == 0, fromConfig.Stderr);
        Assert.True(File.Exists(Path.Combine(configured, "keys", "mine.key")));
        Assert.False(File.Exists(Path.Combine(configured, "router.key")));
        Assert.Equal(fromConfig.Stdout.Trim(), (await RunInAsync(configured, "address")).Stdout.Trim());
    }

    [GeneratedRegex("^[0-9a-f]{8}(-[0-9a-f]{8}){7}$")]
    private static partial Regex AddressPattern();

    /// <summary>Runs the router binary to completion in <paramref name="folder"/>.</summary>
    private static async Task<Cli.Result> RunInAsync(string folder, params string[] args)
    {
        var start = new ProcessStartInfo(RouterBinary.Executable)
        {
            WorkingDirectory = folder,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        foreach (var key in start.Environment.Keys.Where(k => k.StartsWith("ROUTER__", StringComparison.Ordinal)).ToList())
        {
            start.Environment.Remove(key);
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token);
        return new Cli.Result(process.ExitCode, await stdout, await stderr);
    }
}
