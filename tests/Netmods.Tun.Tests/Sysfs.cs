using System.Runtime.InteropServices;

namespace Router.Netmods.Tun.Tests;

/// <summary>
/// A sysfs mounted from a thread inside a test's namespace, at a temporary directory, so it
/// shows that namespace's interfaces (the test process's own /sys shows the host's). The
/// tun netmod is pointed at it (<see cref="TunOptions.InterfacesPath"/>) as a router started
/// with <c>ip netns exec</c> would find its /sys. Disposing unmounts it (lazily) and removes
/// the directory.
/// </summary>
internal sealed partial class Sysfs : IDisposable
{
    private const int MntDetach = 2;

    private Sysfs(string root) => Root = root;

    public string Root { get; }

    /// <summary>Where the namespace's interfaces are: <c>ROOT/class/net</c>.</summary>
    public string Interfaces => Path.Combine(Root, "class", "net");

    public static async Task<Sysfs> MountAsync(NetworkNamespace ns)
    {
        var root = Directory.CreateTempSubdirectory("tun-test-sysfs-").FullName;
        try
        {
            await ns.RunInsideAsync(() =>
            {
                if (Mount("sysfs", root, "sysfs", 0, 0) != 0)
                {
                    throw new IOException($"mounting sysfs for {ns.Name} at {root} failed: errno {Marshal.GetLastPInvokeError()}");
                }

                return true;
            });
        }
        catch
        {
            Directory.Delete(root);
            throw;
        }

        return new Sysfs(root);
    }

    /// <summary>The text of <c>class/net/INTERFACE/FILE</c>, trimmed.</summary>
    public string Read(string interfaceName, string file) => File.ReadAllText(Path.Combine(Interfaces, interfaceName, file)).Trim();

    public void Dispose()
    {
        Unmount(Root, MntDetach);
        try
        {
            Directory.Delete(Root);
        }
        catch (IOException)
        {
            // Still busy for a moment after a lazy unmount: an empty directory in /tmp is left.
        }
    }

    [LibraryImport("libc", EntryPoint = "mount", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Mount(string source, string target, string type, nuint flags, nint data);

    [LibraryImport("libc", EntryPoint = "umount2", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Unmount(string target, int flags);
}
