using System.Runtime.CompilerServices;
using System.Text.Json;

namespace Router.Tests;

/// <summary>
/// The wire-format test vectors checked in under <c>tests/vectors/</c>, found above the test
/// binaries or, when the build output lives elsewhere (e.g. <c>--artifacts-path</c>), above
/// this source file.
/// </summary>
internal static class TestVectors
{
    public static JsonElement Load(string name, [CallerFilePath] string sourceFile = "")
    {
        var relative = Path.Combine("tests", "vectors", name);
        foreach (var start in new[] { AppContext.BaseDirectory, Path.GetDirectoryName(sourceFile) ?? "" })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                var path = Path.Combine(dir.FullName, relative);
                if (File.Exists(path))
                {
                    using var document = JsonDocument.Parse(File.ReadAllText(path));
                    return document.RootElement.Clone();
                }
            }
        }

        throw new FileNotFoundException($"{relative} not found above {AppContext.BaseDirectory} or {sourceFile}");
    }

    public static byte[] Hex(this JsonElement element, string property) => Convert.FromHexString(element.GetProperty(property).GetString()!);
}
