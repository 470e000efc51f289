namespace Router.Sdk;

/// <summary>The outcome of <see cref="Netmod.SendAsync"/>. Expected failures are results, not exceptions.</summary>
public enum SendResult
{
    /// <summary>The frame was accepted for transmission (queued or written).</summary>
    Sent,

    /// <summary>No live neighbour has that id (it went down, or never existed).</summary>
    NoSuchNeighbour,

    /// <summary>The frame is longer than <see cref="NetmodCapabilities.MaxFrameSize"/>.</summary>
    TooLarge,

    /// <summary>The neighbour's send queue is full and the netmod does not wait.</summary>
    QueueFull,

    /// <summary>The netmod is not running (never started, or stopped).</summary>
    Stopped,
}
