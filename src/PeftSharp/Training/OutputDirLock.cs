using System.Globalization;

namespace PeftSharp.Training;

/// <summary>
/// One run per output folder: output_dir/.peftsharp.lock is held open with an exclusive lock (flock on Linux) for
/// the whole run, so a second run writing to the same folder refuses instead of interleaving checkpoints. The kernel
/// drops the lock when its process dies however it dies, so a lock file left by a killed run is recognised as stale
/// and taken over; the file's contents (pid, host, start) only serve the messages.
/// </summary>
public sealed class OutputDirLock : IDisposable
{
    /// <summary>The lock file's name inside output_dir, ".peftsharp.lock".</summary>
    public const string FileName = ".peftsharp.lock";
    readonly FileStream stream;
    readonly string? createdFolder; // removed again on release if the run left it empty (it failed before writing)
    /// <summary>Full path of the lock file.</summary>
    public string Path { get; }

    OutputDirLock(string path, FileStream stream, string? createdFolder)
    {
        Path = path;
        this.stream = stream;
        this.createdFolder = createdFolder;
    }

    /// <summary>
    /// Takes the lock on <paramref name="outputDir"/> (creating the folder if needed) and writes this process's pid,
    /// host and start time into it; a stale lock of a dead run is taken over with a notice.
    /// </summary>
    /// <returns>The held lock; dispose it when the run ends.</returns>
    /// <exception cref="ConfigurationException">The folder cannot be created or written, or another live run holds it.</exception>
    public static OutputDirLock Acquire(string outputDir)
    {
        string? created = Directory.Exists(outputDir) ? null : outputDir;
        try { Directory.CreateDirectory(outputDir); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ConfigurationException($"cannot create output_dir {outputDir} ({e.Message}): choose a folder you can write to");
        }
        var path = System.IO.Path.Combine(outputDir, FileName);
        FileStream stream;
        try
        {
            stream = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new ConfigurationException($"output_dir {outputDir} is not writable ({e.Message}): choose a folder you can write to");
        }
        catch (IOException e) when (IsSharingViolation(e))
        {
            throw new ConfigurationException($"output_dir {outputDir} is in use by another run{Describe(ReadHolder(path))}: wait for it to finish or choose another output_dir");
        }
        catch (IOException e)
        {
            throw new ConfigurationException($"cannot write to output_dir {outputDir} ({e.Message}): check free space and permissions, or choose another output_dir");
        }
        try
        {
            var previous = new StreamReader(stream, leaveOpen: true).ReadToEnd().Trim();
            if (previous.Length > 0 && IsLiveOtherProcess(previous))
            {
                // The kernel lock was free but the named process is alive: a file system without locks (some network mounts).
                stream.Dispose();
                throw new ConfigurationException($"output_dir {outputDir} is in use by another run{Describe(previous)}: wait for it to finish or choose another output_dir");
            }
            if (previous.Length > 0) Diagnostics.Info($"{path}: taking over a stale lock{Describe(previous)} whose run is no longer running");
            stream.SetLength(0);
            stream.Position = 0;
            using (var w = new StreamWriter(stream, leaveOpen: true))
                w.Write(string.Create(CultureInfo.InvariantCulture,
                    $"pid {Environment.ProcessId}\nhost {Environment.MachineName}\nstart_ticks {StartTicks(Environment.ProcessId)}\nsince {DateTime.UtcNow:O}\n"));
            stream.Flush(flushToDisk: true);
            return new OutputDirLock(path, stream, created);
        }
        catch (IOException e)
        {
            stream.Dispose();
            throw new ConfigurationException($"cannot write to output_dir {outputDir} ({e.Message}): check free space and permissions, or choose another output_dir");
        }
    }

    /// <summary>
    /// Deletes the lock file and releases the lock; removes the output folder again if this run created it and left it
    /// empty.
    /// </summary>
    public void Dispose()
    {
        try
        {
            File.Delete(Path);
            if (createdFolder is not null && !Directory.EnumerateFileSystemEntries(createdFolder).Any()) Directory.Delete(createdFolder);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        stream.Dispose();
    }

    // .NET maps a held flock to an IOException with EWOULDBLOCK's HResult on Unix, ERROR_SHARING_VIOLATION on Windows.
    static bool IsSharingViolation(IOException e) => (e.HResult & 0xFFFF) is 32 or 33 or 11 || e.Message.Contains("being used by another process", StringComparison.OrdinalIgnoreCase);

    // .NET's own read would ask for a shared flock and fail while the holder has its exclusive one.
    static string? ReadHolder(string path) =>
        OperatingSystem.IsWindows() ? null : IO.Posix.ReadPrefix(path, 4096) is { } bytes ? System.Text.Encoding.UTF8.GetString(bytes) : null;

    static Dictionary<string, string> Fields(string contents) =>
        contents.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(l => l.Split(' ', 2)).Where(p => p.Length == 2).GroupBy(p => p[0]).ToDictionary(g => g.Key, g => g.First()[1]);

    static string Describe(string? contents)
    {
        if (contents is null) return "";
        var f = Fields(contents);
        return f.TryGetValue("pid", out var pid) ? $" (pid {pid} on {f.GetValueOrDefault("host", "?")} since {f.GetValueOrDefault("since", "?")})" : "";
    }

    /// <summary>The holder named in the file is another process on this host that is still running (same pid and start time).</summary>
    static bool IsLiveOtherProcess(string contents)
    {
        var f = Fields(contents);
        if (!f.TryGetValue("pid", out var p) || !int.TryParse(p, out int pid) || pid == Environment.ProcessId) return false;
        if (f.GetValueOrDefault("host") != Environment.MachineName) return false;
        var ticks = StartTicks(pid);
        return ticks is not null && ticks == f.GetValueOrDefault("start_ticks");
    }

    /// <summary>Field 22 of /proc/pid/stat: a process's start time, which tells a reused pid from the original.</summary>
    static string? StartTicks(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return fields.Length > 19 ? fields[19] : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; }
    }
}
