namespace PeftSharp.Tests.Support;

/// <summary>Runs the peftsharp CLI in-process and captures what it prints.</summary>
public static class CliRunner
{
    public sealed record Result(int ExitCode, string Out, string Err);

    public static Result Run(params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        int rc = PeftSharp.Cli.Program.Run(args, o, e);
        return new Result(rc, o.ToString(), e.ToString());
    }
}
