namespace Router.Switching;

/// <summary>
/// Frames and bytes that crossed one netmod, or one link of it, in each direction — what a
/// router's interface counters are to an operator. Incremented on the frame path with
/// lock-free adds (sends come from several threads); read by status, metrics and the dashboard.
/// </summary>
internal sealed class TrafficCounters
{
    private long _framesIn;
    private long _bytesIn;
    private long _framesOut;
    private long _bytesOut;

    public long FramesIn => Interlocked.Read(ref _framesIn);

    public long BytesIn => Interlocked.Read(ref _bytesIn);

    public long FramesOut => Interlocked.Read(ref _framesOut);

    public long BytesOut => Interlocked.Read(ref _bytesOut);

    public void CountIn(int bytes)
    {
        Interlocked.Increment(ref _framesIn);
        Interlocked.Add(ref _bytesIn, bytes);
    }

    public void CountOut(int frames, long bytes)
    {
        Interlocked.Add(ref _framesOut, frames);
        Interlocked.Add(ref _bytesOut, bytes);
    }
}
