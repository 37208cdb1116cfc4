using System.CommandLine;
using PeftSharp.Cli.Commands;

namespace PeftSharp.Cli;

public static class Program
{
    public static int Main(string[] args) => Run(args, Console.Out, Console.Error);

    /// <summary>Runs the CLI with the given writers (tests call this in-process).</summary>
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        var root = new RootCommand("PeftSharp: parameter-efficient fine-tuning of transformer models on TorchSharp")
        {
            GenerateCommand.Create(stdout),
            InspectCommand.Create(stdout),
            ConvertCommand.Create(stdout),
            MergeCommand.Create(stdout),
            EvalCommand.Create(stdout),
            TrainCommand.Create(stdout),
            PredictCommand.Create(stdout),
            TranscribeCommand.Create(stdout),
        };
        var parsed = root.Parse(args);
        try
        {
            return parsed.Invoke(new InvocationConfiguration { Output = stdout, Error = stderr, EnableDefaultExceptionHandler = false });
        }
        catch (PeftSharpException e)
        {
            stderr.WriteLine($"error: {e.Message}");
            return 1;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A write that failed outside the paths that explain themselves (disk full, read-only folder, ...).
            stderr.WriteLine($"error: {e.Message} (check free space and permissions of the folders involved)");
            return 1;
        }
    }
}
