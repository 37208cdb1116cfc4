using System.Diagnostics;

namespace PeftSharp.Tests.Support;

/// <summary>Runs another program (dotnet, an installed tool, the CLI) to completion and collects what it printed.</summary>
public static class ExternalProcess
{
    public sealed record Result(int ExitCode, string Output);

    public static Result Run(string file, IEnumerable<string> args, string workDir, TimeSpan timeout,
        IReadOnlyDictionary<string, string>? env = null)
    {
        var start = new ProcessStartInfo(file) { WorkingDirectory = workDir };
        foreach (var a in args) start.ArgumentList.Add(a);
        foreach (var (k, v) in env ?? new Dictionary<string, string>()) start.Environment[k] = v;
        return Run(start, _ => { }, timeout);
    }

    /// <param name="watch">Runs once the process has started, on this thread: may wait for something and kill it.</param>
    public static Result Run(ProcessStartInfo start, Action<Process> watch, TimeSpan timeout)
    {
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        start.UseShellExecute = false;
        using var p = Process.Start(start)!;
        var output = new System.Text.StringBuilder();
        p.OutputDataReceived += (_, e) => { lock (output) output.AppendLine(e.Data); };
        p.ErrorDataReceived += (_, e) => { lock (output) output.AppendLine(e.Data); };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        watch(p);
        if (!p.WaitForExit(timeout))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"{start.FileName} {string.Join(' ', start.ArgumentList)} did not finish in {timeout}:\n{output}");
        }
        p.WaitForExit(); // drains the output readers
        lock (output) return new Result(p.ExitCode, output.ToString());
    }

    /// <summary>The dotnet host running the tests (so child processes use the same runtime and SDK).</summary>
    public static string Dotnet => Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet";
}
