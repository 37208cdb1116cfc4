using System.Diagnostics;

namespace PeftSharp.Tests.Support;

/// <summary>Runs the peftsharp CLI as a child process (`dotnet PeftSharp.Cli.dll ...`), for tests that kill it.</summary>
public static class CliProcess
{
    public sealed record Result(int ExitCode, string Output)
    {
        /// <summary>Ended by SIGKILL, from the test or from a fault point inside it (exit status 128 + 9).</summary>
        public bool Killed => ExitCode == 137;
    }

    /// <param name="killAfter">Kill the process (SIGKILL) this long after it starts, unless it has ended.</param>
    public static Result Run(string workDir, IReadOnlyDictionary<string, string>? env, TimeSpan? killAfter, params string[] args) =>
        Run(workDir, env, p =>
        {
            if (killAfter is { } delay && !p.WaitForExit(delay)) p.Kill();
        }, args);

    /// <param name="watch">Runs once the process has started, on this thread: may wait for something and kill it.</param>
    public static Result RunWatched(string workDir, Action<Process> watch, params string[] args) => Run(workDir, null, watch, args);

    /// <summary>`dotnet` and the CLI's dll: the command line that runs the CLI (mpirun starts it once per rank).</summary>
    public static string[] Command => [ExternalProcess.Dotnet, Path.Combine(AppContext.BaseDirectory, "PeftSharp.Cli.dll")];

    static Result Run(string workDir, IReadOnlyDictionary<string, string>? env, Action<Process> watch, string[] args) =>
        RunProgram(workDir, env, watch, [.. Command, .. args]);

    /// <summary>Runs <paramref name="commandLine"/> (program, then arguments) and returns its exit code and output; fails after 3 minutes.</summary>
    public static Result RunProgram(string workDir, IReadOnlyDictionary<string, string>? env, Action<Process> watch, string[] commandLine)
    {
        var start = new ProcessStartInfo(commandLine[0]) { WorkingDirectory = workDir };
        foreach (var a in commandLine[1..]) start.ArgumentList.Add(a);
        foreach (var (k, v) in env ?? new Dictionary<string, string>()) start.Environment[k] = v;
        var r = ExternalProcess.Run(start, watch, TimeSpan.FromMinutes(3));
        return new Result(r.ExitCode, r.Output);
    }
}
