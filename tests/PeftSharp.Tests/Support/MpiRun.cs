namespace PeftSharp.Tests.Support;

/// <summary>
/// Runs the CLI as an Open MPI job (`mpirun -np N dotnet PeftSharp.Cli.dll ...`) on this machine. Tests call
/// <see cref="RequireMpirun"/> first: without Open MPI they skip with the package to install.
/// </summary>
public static class MpiRun
{
    /// <summary>Skips the calling test when mpirun is not on PATH; else returns its path.</summary>
    public static string RequireMpirun()
    {
        var found = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(d => Path.Combine(d, "mpirun")).FirstOrDefault(File.Exists);
        if (found is null) Assert.Skip("mpirun not found: data-parallel tests need Open MPI (apt-get install openmpi-bin libopenmpi-dev; .ci/run installs it)");
        return found;
    }

    /// <summary>
    /// Runs `peftsharp <paramref name="args"/>` as <paramref name="ranks"/> ranks; <paramref name="lastRankEnv"/> is
    /// set for the last rank only (e.g. PEFTSHARP_FAULT to break that one rank).
    /// </summary>
    public static CliProcess.Result Train(string workDir, int ranks, IReadOnlyDictionary<string, string>? lastRankEnv, params string[] args)
    {
        var mpirun = RequireMpirun();
        // As root, in a container: allow root, allow more ranks than cores, shared memory without cross-memory attach.
        var line = new List<string> { mpirun, "--allow-run-as-root", "--oversubscribe", "--mca", "btl", "self,vader", "--mca", "btl_vader_single_copy_mechanism", "none" };
        var rank = CliProcess.Command.Concat(args).ToArray();
        if (lastRankEnv is null) line.AddRange(["-np", ranks.ToString(), .. rank]);
        else
        {
            if (ranks > 1) line.AddRange(["-np", (ranks - 1).ToString(), .. rank, ":"]);
            line.AddRange(["-np", "1", "env", .. lastRankEnv.Select(e => $"{e.Key}={e.Value}"), .. rank]);
        }
        return CliProcess.RunProgram(workDir, null, _ => { }, line.ToArray());
    }
}
