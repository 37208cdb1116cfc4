namespace PeftSharp.Tests.Support;

/// <summary>
/// Paths to the shared real-data fixtures ($PEFTSHARP_FIXTURES, default ../shared/fixtures beside the repository)
/// and to this project's golden files.
/// </summary>
public static class Fixtures
{
    public static string RepoRoot { get; } = FindRepoRoot();

    static string FindRepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "PeftSharp.slnx"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("PeftSharp.slnx not found above " + AppContext.BaseDirectory);
    }

    public static string Root =>
        Environment.GetEnvironmentVariable("PEFTSHARP_FIXTURES") is { Length: > 0 } env
            ? env
            : Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared", "fixtures"));

    /// <summary>The fixture's path, or skips the test with a message naming where it was looked for.</summary>
    public static string Require(params string[] parts)
    {
        var relative = Path.Combine(parts);
        var p = Path.Combine(Root, relative);
        if (!File.Exists(p) && !Directory.Exists(p))
            Assert.Skip($"fixture '{relative}' not found under {Root} (set PEFTSHARP_FIXTURES to the fixtures folder)");
        return p;
    }

    public static string Golden(params string[] parts) => Path.Combine([AppContext.BaseDirectory, "Golden", .. parts]);

    /// <summary>A fresh empty folder under the system temp folder, removed when disposed.</summary>
    public static TempDir NewTempDir() => new();
}

public sealed class TempDir : IDisposable
{
    public string Path { get; }
    public TempDir(string? parent = null)
    {
        Path = System.IO.Path.Combine(parent ?? System.IO.Path.GetTempPath(), "peftsharp-test-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(Path);
    }
    public string File(string name) => System.IO.Path.Combine(Path, name);
    public void Dispose()
    {
        try { Directory.Delete(Path, true); } catch (IOException) { }
    }
}
