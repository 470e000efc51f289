using Microsoft.Extensions.Logging;
using Router.Sdk;

namespace Router.Netmods.Tun;

/// <summary>
/// Puts frames from the mesh (a <see cref="VirtioNetHeader"/> and an IP packet) onto the device,
/// synchronously on the caller's thread: TUN writes do not block.
/// </summary>
/// <remarks>
/// <para>A device with offloads takes the frame as it is, header included: no copy, the kernel
/// completes checksums and segments super-packets itself where it needs to.</para>
/// <para>A device without offloads takes plain IP packets, so the writer does the kernel's
/// part: a frame with a zero header is written without it (no copy); one that
/// <see cref="VirtioNetHeader.NeedsChecksum"/> is copied to a pooled buffer and its checksum
/// completed (<see cref="ChecksumCompletion"/>); a GSO super-packet is cut into segments in a
/// pooled buffer, each written as it is made (<see cref="TcpSegmenter"/>). Pooled buffers come
/// from <see cref="FrameBuffers"/> and go straight back, so nothing is allocated per frame.</para>
/// <para>Expected failures are results: a frame that is not an IPv4 or IPv6 packet, or (for a
/// device without offloads) whose packet and header the netmod cannot finish, is counted as
/// malformed and dropped; a write the kernel refuses (with offloads, the kernel is the one to
/// refuse an inconsistent header) is counted as a write error. Both return
/// <see cref="SendResult.Sent"/> (best effort, as for any lost packet) and are logged at most
/// every 10 s. Nothing throws. Thread-safe: it keeps no state between calls but counters.</para>
/// </remarks>
internal sealed class FrameWriter
{
    private readonly IPacketSink _sink;
    private readonly bool _deviceTakesHeader;
    private readonly TunCounters _counters;
    private readonly ILogger _logger;
    private readonly LogThrottle _malformedLog;
    private readonly LogThrottle _errorLog;
    private readonly string _deviceName;

    public FrameWriter(IPacketSink sink, bool deviceTakesHeader, TunCounters counters, ILogger logger, TimeProvider time, string deviceName)
    {
        _sink = sink;
        _deviceTakesHeader = deviceTakesHeader;
        _counters = counters;
        _logger = logger;
        _malformedLog = new LogThrottle(time);
        _errorLog = new LogThrottle(time);
        _deviceName = deviceName;
    }

    /// <summary>
    /// Writes one frame. Returns <see cref="SendResult.TooLarge"/> above
    /// <see cref="VirtioNetHeader.MaxFrameSize"/>, <see cref="SendResult.Stopped"/> once the
    /// device is closed, and <see cref="SendResult.Sent"/> otherwise (see the remarks).
    /// </summary>
    public SendResult Write(ReadOnlySpan<byte> frame)
    {
        if (frame.Length > VirtioNetHeader.MaxFrameSize)
        {
            return SendResult.TooLarge;
        }

        if (frame.Length <= VirtioNetHeader.Size)
        {
            return Malformed("shorter than a virtio header and an IP packet");
        }

        var packet = frame[VirtioNetHeader.Size..];
        if (IpPacket.Version(packet) is not (4 or 6))
        {
            return Malformed("not an IPv4 or IPv6 packet");
        }

        if (_deviceTakesHeader)
        {
            return Put(frame, packet.Length);
        }

        var header = VirtioNetHeader.Read(frame);
        if (header.IsGso)
        {
            return Segment(packet, header);
        }

        return header.NeedsChecksum ? CompleteChecksum(packet, header) : Put(packet, packet.Length);
    }

    private SendResult Segment(ReadOnlySpan<byte> packet, VirtioNetHeader header)
    {
        if (TcpSegmenter.TryCreate(packet, header, out var segmenter) is { } problem)
        {
            return Malformed(problem);
        }

        var scratch = FrameBuffers.Rent(packet.Length);
        try
        {
            while (segmenter.WriteNext(scratch, out var length))
            {
                if (Put(scratch.AsSpan(0, length), length) == SendResult.Stopped)
                {
                    return SendResult.Stopped;
                }
            }

            _counters.CountSegmented();
            return SendResult.Sent;
        }
        finally
        {
            FrameBuffers.Return(scratch);
        }
    }

    private SendResult CompleteChecksum(ReadOnlySpan<byte> packet, VirtioNetHeader header)
    {
        var scratch = FrameBuffers.Rent(packet.Length);
        try
        {
            var copy = scratch.AsSpan(0, packet.Length);
            packet.CopyTo(copy);
            var length = ChecksumCompletion.TryComplete(copy, header, out var problem);
            if (length < 0)
            {
                return Malformed(problem!);
            }

            _counters.CountChecksumCompleted();
            return Put(copy[..length], length);
        }
        finally
        {
            FrameBuffers.Return(scratch);
        }
    }

    private SendResult Put(ReadOnlySpan<byte> bytes, int ipBytes)
    {
        var result = _sink.Write(bytes);
        if (result == 0)
        {
            _counters.CountWritten(ipBytes);
            return SendResult.Sent;
        }

        if (result == TunDevice.Closed)
        {
            return SendResult.Stopped;
        }

        _counters.CountWriteError();
        if (_errorLog.ShouldLog())
        {
            Log.WriteFailed(_logger, _deviceName, Errno.Describe(result), _counters.WriteErrors);
        }

        return SendResult.Sent;
    }

    private SendResult Malformed(string problem)
    {
        _counters.CountMalformed();
        if (_malformedLog.ShouldLog())
        {
            Log.MalformedFrame(_logger, _deviceName, problem, _counters.MalformedDropped);
        }

        return SendResult.Sent;
    }
}
