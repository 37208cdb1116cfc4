using PeftSharp.Tests.Support;

namespace PeftSharp.Tests.Packaging;

/// <summary>
/// Packs the library and the CLI tool once, from a copy of the sources in a temp folder (so the test run's own build
/// output is never rebuilt under it), with a version unique to this run (so NuGet's global cache cannot hand back an
/// older package of the same version). The tool is packed for linux-x64 only: its libtorch makes each platform's
/// package about 140 MB.
/// </summary>
public sealed class PackedPackages : IDisposable
{
    public string Root { get; } = Directory.CreateTempSubdirectory("peftsharp-pack-").FullName;
    public string Artifacts => Path.Combine(Root, "artifacts");
    public string Version { get; } = $"0.0.1-test.{DateTime.UtcNow:yyyyMMddHHmmss}.{Environment.ProcessId}";

    static readonly string[] PackageIds = ["peftsharp", "peftsharp.cli", "peftsharp.cli.linux-x64"];

    public PackedPackages()
    {
        var sources = Path.Combine(Root, "src-copy");
        foreach (var file in new[] { "Directory.Build.props", "Directory.Build.targets", "global.json", "README.md", "LICENSE" })
            File.Copy(Path.Combine(Fixtures.RepoRoot, file), Path.Combine(sources, file).EnsureParent());
        CopyTree(Path.Combine(Fixtures.RepoRoot, "build"), Path.Combine(sources, "build"));
        CopyTree(Path.Combine(Fixtures.RepoRoot, "src"), Path.Combine(sources, "src"));
        Pack(sources, "src/PeftSharp");
        Pack(sources, "src/PeftSharp.Cli", "-p:ToolPackageRuntimeIdentifiers=linux-x64");
    }

    void Pack(string sources, string project, params string[] extra)
    {
        var r = ExternalProcess.Run(ExternalProcess.Dotnet,
            ["pack", project, "-c", "Release", "-o", Artifacts, $"-p:Version={Version}", "-nologo", .. extra],
            sources, TimeSpan.FromMinutes(8));
        if (r.ExitCode != 0) throw new InvalidOperationException($"dotnet pack {project} failed:\n{r.Output}");
    }

    static void CopyTree(string from, string to)
    {
        foreach (var file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            var relative = Path.GetRelativePath(from, file);
            var parts = relative.Split(Path.DirectorySeparatorChar);
            if (parts.Any(p => p is "bin" or "obj")) continue;
            File.Copy(file, Path.Combine(to, relative).EnsureParent());
        }
    }

    public void Dispose()
    {
        try { Directory.Delete(Root, recursive: true); } catch (IOException) { }
        // This run's packages in NuGet's global cache (restores of the consumer project put them there).
        var cache = Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } c
            ? c
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        foreach (var id in PackageIds)
        {
            var dir = Path.Combine(cache, id, Version.ToLowerInvariant());
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }
}

static class PathExtensions
{
    /// <summary>Creates the file's folder and returns the path unchanged.</summary>
    public static string EnsureParent(this string file)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(file)!);
        return file;
    }
}
