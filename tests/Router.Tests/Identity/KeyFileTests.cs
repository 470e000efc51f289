using Router.Identity;

namespace Router.Tests.Identity;

public class KeyFileTests
{
    [Fact]
    public void LoadOrCreate_FirstStart_CreatesOwnerOnlyKeyWithStableAddress()
    {
        using var dir = new TempDirectory();
        var path = dir.File("keys/router.key");

        using var created = KeyFile.LoadOrCreate(path, out var wasCreated);
        Assert.True(wasCreated);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));

        using var loaded = KeyFile.LoadOrCreate(path, out var wasCreatedAgain);
        Assert.False(wasCreatedAgain);
        Assert.Equal(created.Address, loaded.Address);
        Assert.Equal(RouterIdentity.DeriveAddress(loaded.PublicKey), loaded.Address);
    }

    [Fact]
    public void Load_FileReadableByOthers_IsRefusedWithTheFix()
    {
        using var dir = new TempDirectory();
        var path = dir.File("router.key");
        KeyFile.Create(path).Dispose();
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);

        var e = Assert.Throws<KeyFileException>(() => KeyFile.Load(path));
        Assert.Contains("0644", e.Message, StringComparison.Ordinal);
        Assert.Contains("chmod 600", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(UnixFileMode.GroupRead, "0640")]
    [InlineData(UnixFileMode.OtherRead, "0604")]
    [InlineData(UnixFileMode.GroupWrite, "0620")]
    public void Load_FileOpenToGroupOrOthersInAnyWay_IsRefused(UnixFileMode extra, string octal)
    {
        using var dir = new TempDirectory();
        var path = dir.File("router.key");
        KeyFile.Create(path).Dispose();
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | extra);

        var e = Assert.Throws<KeyFileException>(() => KeyFile.Load(path));
        Assert.Contains(octal, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_MissingFile_SaysSo()
    {
        using var dir = new TempDirectory();

        var e = Assert.Throws<KeyFileException>(() => KeyFile.Load(dir.File("router.key")));
        Assert.Contains("does not exist", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Create_FileExists_IsRefusedAndTheFileLeftAlone()
    {
        using var dir = new TempDirectory();
        var path = dir.File("router.key");
        using var first = KeyFile.Create(path);
        var before = File.ReadAllText(path);

        var e = Assert.Throws<KeyFileException>(() => KeyFile.Create(path));

        Assert.True(e.AlreadyExists);
        Assert.Equal(before, File.ReadAllText(path));
        Assert.Equal(["router.key"], Directory.GetFiles(dir.Path).Select(Path.GetFileName));
    }

    [Fact]
    public void Create_Overwrite_ReplacesTheKeyWithAnOwnerOnlyFileAndLeavesNothingBehind()
    {
        using var dir = new TempDirectory();
        var path = dir.File("router.key");
        File.WriteAllText(path, "an old key, readable by everyone");
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);

        using var created = KeyFile.Create(path, overwrite: true);

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        Assert.StartsWith("-----BEGIN PRIVATE KEY-----", File.ReadAllText(path), StringComparison.Ordinal);
        using var loaded = KeyFile.Load(path);
        Assert.Equal(created.Address, loaded.Address);
        Assert.Equal(["router.key"], Directory.GetFiles(dir.Path).Select(Path.GetFileName));
    }

    [Fact]
    public void Load_NotAKey_SaysSo()
    {
        using var dir = new TempDirectory();
        var path = dir.File("router.key");
        File.WriteAllText(path, "not a key");
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);

        var e = Assert.Throws<KeyFileException>(() => KeyFile.Load(path));
        Assert.Contains("does not hold a P-256 private key", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Create_TwoRouters_GetDifferentAddresses()
    {
        using var one = RouterIdentity.Create();
        using var two = RouterIdentity.Create();
        Assert.NotEqual(one.Address, two.Address);
    }
}
