using System.Runtime.InteropServices;

namespace Router.Netmods.Tun.Tests;

/// <summary>Linux capabilities of the calling thread (capget/capset act on one thread only).</summary>
internal static unsafe partial class Capabilities
{
    private const uint Version3 = 0x20080522;
    private const int CapNetAdmin = 12;

    /// <summary>Removes CAP_NET_ADMIN from the calling thread's effective set.</summary>
    public static void DropNetAdmin()
    {
        // struct __user_cap_header_struct { u32 version; int pid; } and two
        // struct __user_cap_data_struct { u32 effective, permitted, inheritable; } (64 bits of capabilities).
        var header = stackalloc uint[2] { Version3, 0 };
        var data = stackalloc uint[6];
        if (CapGet(header, data) != 0)
        {
            throw new IOException($"capget failed: errno {Marshal.GetLastPInvokeError()}");
        }

        data[0] &= ~(1u << CapNetAdmin);
        if (CapSet(header, data) != 0)
        {
            throw new IOException($"capset failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    [LibraryImport("libc", EntryPoint = "capget", SetLastError = true)]
    private static partial int CapGet(uint* header, uint* data);

    [LibraryImport("libc", EntryPoint = "capset", SetLastError = true)]
    private static partial int CapSet(uint* header, uint* data);
}
