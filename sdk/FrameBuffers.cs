using System.Buffers;

namespace Router.Sdk;

/// <summary>
/// The pool every frame buffer comes from. A netmod rents a buffer, fills it with one
/// received frame and hands it to the router inside an <see cref="InboundFrame"/>; from then
/// on the router owns it and returns it here. Renting and returning allocate nothing in the
/// steady state. Thread-safe.
/// </summary>
public static class FrameBuffers
{
    /// <summary>Rents a buffer of at least <paramref name="minimumLength"/> bytes.</summary>
    public static byte[] Rent(int minimumLength) => ArrayPool<byte>.Shared.Rent(minimumLength);

    /// <summary>
    /// Returns a buffer obtained from <see cref="Rent"/>. The caller must not touch it
    /// afterwards, and must return each buffer exactly once.
    /// </summary>
    public static void Return(byte[] buffer) => ArrayPool<byte>.Shared.Return(buffer);
}
