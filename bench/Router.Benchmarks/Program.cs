using BenchmarkDotNet.Running;
using Router.Benchmarks.Routing;
using Router.Benchmarks.Switching;

namespace Router.Benchmarks;

/// <summary>
/// <c>switch [BenchmarkDotNet arguments]</c> runs the switch micro-benchmarks;
/// <c>crypto [BenchmarkDotNet arguments]</c> the cost of link seals and end-to-end sealing;
/// <c>routing [--sizes 100,1000]</c> runs the routing scaling report on the simulator.
/// </summary>
internal static class Program
{
    public static int Main(string[] args)
    {
        var command = args.Length > 0 ? args[0] : "";
        var rest = args.Length > 0 ? args[1..] : [];
        switch (command)
        {
            case "switch":
                BenchmarkSwitcher.FromTypes([typeof(SwitchForwardingBenchmarks), typeof(HarnessBenchmarks), typeof(LocalDeliveryBenchmarks), typeof(FrameHeaderBenchmarks), typeof(RouteTableBenchmarks), typeof(ChannelHandoffBenchmarks)])
                    .Run(rest.Length > 0 ? rest : ["--filter", "*"]);
                return 0;
            case "crypto":
                BenchmarkSwitcher.FromTypes([typeof(Security.CryptoBenchmarks)]).Run(rest.Length > 0 ? rest : ["--filter", "*"]);
                return 0;
            case "routing":
                return ScalingRun.Execute(rest);
            default:
                Console.Error.WriteLine("""
                    usage: Router.Benchmarks switch [BenchmarkDotNet options, default --filter *]
                           Router.Benchmarks crypto [BenchmarkDotNet options, default --filter *]
                           Router.Benchmarks routing [--sizes 100,1000] [--seed N]
                    """);
                return 2;
        }
    }
}
