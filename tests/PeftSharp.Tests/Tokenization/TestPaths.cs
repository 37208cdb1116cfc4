namespace PeftSharp.Tests.Tokenization;

/// <summary>Where the golden files (copied to the test output) and the shared fixtures live.</summary>
internal static class TestPaths
{
    public static string Golden(params string[] parts) =>
        Path.Combine([AppContext.BaseDirectory, "Golden", "tokenizers", .. parts]);

    public static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "PeftSharp.slnx"))) return dir.FullName;
        throw new InvalidOperationException($"no PeftSharp.slnx above {AppContext.BaseDirectory}");
    }

    /// <summary>PEFTSHARP_FIXTURES, else ../shared/fixtures beside the repository root.</summary>
    public static string FixturesRoot() =>
        Environment.GetEnvironmentVariable("PEFTSHARP_FIXTURES") is { Length: > 0 } env
            ? env
            : Path.GetFullPath(Path.Combine(RepositoryRoot(), "..", "shared", "fixtures"));

    /// <summary>A fixture file, or a skipped test saying where it was looked for.</summary>
    public static string FixtureOrSkip(params string[] parts)
    {
        string path = Path.Combine([FixturesRoot(), .. parts]);
        if (!File.Exists(path))
            Assert.Skip($"fixture {path} is missing; set PEFTSHARP_FIXTURES to the shared fixtures folder (see fixtures/README.md)");
        return path;
    }
}
