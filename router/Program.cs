using System.CommandLine;
using Router.Cli;

return await RouterCommands.Create()
    .Parse(args)
    .InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null });
