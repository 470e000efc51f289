using Microsoft.Extensions.Configuration;
using Router.Sdk;

namespace Sample.Link;

/// <summary>
/// The netmod's settings, from its section <c>Netmods:sample-link</c>:
/// <code>
/// "sample-link": { "Listen": "0.0.0.0:5880", "Peers": ["192.0.2.7:5880"], "MaxFrameSize": 1400, "HelloSeconds": 1, "DeadPeerSeconds": 5 }
/// </code>
/// <see cref="Read"/> is the one reader: the factory's Validate reports what it finds and Create
/// uses what it returns, so the two never disagree.
/// </summary>
internal sealed record SampleLinkOptions
{
    /// <summary>The port of the default listen address.</summary>
    public const int DefaultPort = 5880;

    /// <summary>The largest frame that fits one UDP datagram with the type byte in front.</summary>
    public const int LargestFrameSize = 65_507 - 1;

    private static readonly string[] KnownKeys = ["Listen", "Peers", "MaxFrameSize", "HelloSeconds", "DeadPeerSeconds"];

    /// <summary>The one socket to bind: an IP literal and a port (0: any free port).</summary>
    public HostEndpoint Listen { get; init; } = new("0.0.0.0", DefaultPort);

    /// <summary>Routers to greet; routers that greet this one become neighbours too.</summary>
    public IReadOnlyList<HostEndpoint> Peers { get; init; } = [];

    /// <summary>The largest frame sent or accepted. 1400 keeps a datagram inside a 1500-byte MTU.</summary>
    public int MaxFrameSize { get; init; } = 1400;

    /// <summary>Time between hellos to each peer and neighbour.</summary>
    public TimeSpan Hello { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>A neighbour heard nothing from for this long is down.</summary>
    public TimeSpan DeadPeer { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Reads the section; returns null after adding every problem to <paramref name="problems"/>.</summary>
    public static SampleLinkOptions? Read(IConfiguration section, List<string> problems)
    {
        var defaults = new SampleLinkOptions();
        var reader = new NetmodConfigReader(section, SampleLinkFactory.NetmodName, KnownKeys);

        var listen = defaults.Listen;
        if (section["Listen"] is { } text)
        {
            if (!HostEndpoint.TryParse(text, allowPortZero: true, out var parsed, out var error))
            {
                reader.Report("Listen", $"'{text}' {error}.");
            }
            else if (parsed.Address is null)
            {
                reader.Report("Listen", $"'{text}' is not an IP address; listen on an address of this machine, such as 0.0.0.0:{DefaultPort}.");
            }
            else
            {
                listen = parsed;
            }
        }
        else
        {
            reader.HasNestedSection("Listen");
        }

        var peers = reader.ReadPeerEndpoints("Peers", DefaultPort);
        var maxFrameSize = reader.ReadInt("MaxFrameSize", defaults.MaxFrameSize, 512, LargestFrameSize);
        var hello = reader.ReadSeconds("HelloSeconds", defaults.Hello);
        var deadPeer = reader.ReadSeconds("DeadPeerSeconds", defaults.DeadPeer);
        if (hello is { } h && deadPeer is { } d && d <= h)
        {
            reader.Report("DeadPeerSeconds", $"{NetmodConfigReader.FormatSeconds(d)} must be greater than HelloSeconds ({NetmodConfigReader.FormatSeconds(h)}), or every link would be declared dead between two hellos.");
        }

        problems.AddRange(reader.Problems);
        return reader.HasProblems ? null : new SampleLinkOptions
        {
            Listen = listen,
            Peers = peers!,
            MaxFrameSize = maxFrameSize!.Value,
            Hello = hello!.Value,
            DeadPeer = deadPeer!.Value,
        };
    }
}
