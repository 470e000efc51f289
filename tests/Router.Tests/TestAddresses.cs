using Router.Sdk;

namespace Router.Tests;

internal static class TestAddresses
{
    public static RouterAddress Random(Random? random = null)
    {
        var bytes = new byte[RouterAddress.Length];
        (random ?? System.Random.Shared).NextBytes(bytes);
        return RouterAddress.Read(bytes);
    }
}

/// <summary>A temporary folder removed when the test ends.</summary>
internal sealed class TempDirectory : IDisposable
{
    public TempDirectory()
    {
        Path = Directory.CreateTempSubdirectory("router-tests-").FullName;
    }

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
