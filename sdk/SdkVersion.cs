namespace Router.Sdk;

/// <summary>
/// The version of the netmod contract. A netmod records the SDK version it was compiled
/// against (its reference to the <c>Router.Sdk</c> assembly); the router loads it only when
/// <see cref="IsCompatible"/> holds for that version.
/// </summary>
/// <remarks>
/// Minor versions only add: 1.4 added <see cref="IPeerRemovalFeature"/> (peers removed by a
/// configuration reload), 1.5 <see cref="InboundFrame.MoreFollows"/> (a netmod says it holds the
/// next frame already), 1.6 <see cref="IFrameRunFeature"/> (several frames in one send), 1.7
/// <see cref="InboundFrame.Offset"/> and <see cref="NetmodContext.ReceiveHeadroom"/> (room left
/// in front of a received frame, so the router can add headers without copying it), 1.8
/// <see cref="FrameChannel"/> (an incoming channel whose frames the router handles on the
/// writing thread), 1.9 <see cref="IIpInterfaceFeature.OnPacketsWritten"/> (an IP interface
/// reads the machine's answers on the thread that wrote to it). A netmod
/// built against 1.5 still loads on a 1.5 or later 1.x router.
/// </remarks>
public static class SdkVersion
{
    /// <summary>The SDK version of this assembly (its assembly version).</summary>
    public static Version Current { get; } = typeof(SdkVersion).Assembly.GetName().Version ?? new Version(1, 0);

    /// <summary>
    /// Whether a netmod built against <paramref name="builtAgainst"/> can run on an SDK of
    /// version <paramref name="available"/>: the major versions must be equal and the netmod
    /// must not need a newer minor version than the one available.
    /// </summary>
    /// <param name="builtAgainst">The SDK version the netmod was compiled against.</param>
    /// <param name="available">The SDK version the router provides.</param>
    public static bool IsCompatible(Version builtAgainst, Version available)
    {
        ArgumentNullException.ThrowIfNull(builtAgainst);
        ArgumentNullException.ThrowIfNull(available);
        return builtAgainst.Major == available.Major && builtAgainst.Minor <= available.Minor;
    }
}
