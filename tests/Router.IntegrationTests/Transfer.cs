namespace Router.IntegrationTests;

internal static class Transfer
{
    /// <summary>Sends a file with <c>router send</c> once the sender has a route, and receives it with <c>router listen --out</c> at the other end.</summary>
    public static async Task FileAsync(string file, string output, RouterProcess from, RouterProcess to, string toAddress)
    {
        // A link that is up is not yet a route: routing still needs hellos both ways and an
        // update (a CI run once sent in between and got "no route").
        await RouterProcess.WaitForAsync(() => from.HasRouteAsync(toAddress), TimeSpan.FromSeconds(20), $"a route to {toAddress}");
        var lines = new List<string>();
        using var listen = Cli.Start(l => { lock (lines) lines.Add(l); }, "listen", "--api", to.ApiSocket, "--out", output, "--count", "1");
        try
        {
            await RouterProcess.WaitForAsync(() => { lock (lines) return lines.Any(l => l.Contains("listening", StringComparison.Ordinal)); }, TimeSpan.FromSeconds(20), "listen to start");
            var sent = await Cli.RunAsync("send", "--api", from.ApiSocket, "--to", toAddress, "--file", file);
            Assert.True(sent.ExitCode == 0, sent.Stderr);
            Assert.Contains($"sent {new FileInfo(file).Length} bytes", sent.Stdout, StringComparison.Ordinal);
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await listen.WaitForExitAsync(timeout.Token);
            Assert.Equal(0, listen.ExitCode);
        }
        finally
        {
            if (!listen.HasExited)
            {
                listen.Kill();
            }
        }
    }
}
