using System.CommandLine;
using System.CommandLine.Invocation;
using PeftSharp.Cli.Commands;

namespace PeftSharp.Cli;

public static class Program
{
    public static int Main(string[] args) => Run(args, Console.Out, Console.Error);

    /// <summary>Runs the CLI with the given writers (tests call this in-process).</summary>
    /// <remarks>
    /// The one place bad input becomes an exit code: a wrong command line or a <see cref="PeftSharpException"/> (bad
    /// configuration, paths, data or files) prints one line, "error: &lt;problem&gt;: &lt;fix&gt;", on stderr and exits
    /// with 1; anything else is a bug and keeps .NET's unhandled-exception report.
    /// </remarks>
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        var root = new RootCommand("PeftSharp: parameter-efficient fine-tuning of transformer models on TorchSharp")
        {
            GenerateCommand.Create(stdout),
            InspectCommand.Create(stdout),
            ConvertCommand.Create(stdout),
            MergeCommand.Create(stdout),
            ExportCommand.Create(stdout),
            EvalCommand.Create(stdout),
            TrainCommand.Create(stdout),
            PredictCommand.Create(stdout),
            TranscribeCommand.Create(stdout),
            ConfigReferenceCommand.Create(stdout),
            DownloadCommand.Create(stdout),
        };
        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0 && parsed.Action is ParseErrorAction)
        {
            var command = parsed.CommandResult.Command is RootCommand ? "peftsharp" : "peftsharp " + parsed.CommandResult.Command.Name;
            return Fail(stderr, $"{string.Join("; ", parsed.Errors.Select(e => e.Message.TrimEnd('.')))} ({command}): run '{command} --help' for the arguments it takes");
        }
        try
        {
            return parsed.Invoke(new InvocationConfiguration { Output = stdout, Error = stderr, EnableDefaultExceptionHandler = false });
        }
        catch (PeftSharpException e)
        {
            return Fail(stderr, e.Message);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A write that failed outside the paths that explain themselves (disk full, read-only folder, ...).
            stderr.WriteLine($"error: {e.Message} (check free space and permissions of the folders involved)");
            return 1;
        }
    }

    static int Fail(TextWriter stderr, string message)
    {
        stderr.WriteLine("error: " + message.ReplaceLineEndings(" "));
        return 1;
    }
}
