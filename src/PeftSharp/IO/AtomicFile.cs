namespace PeftSharp.IO;

/// <summary>
/// Writes a file so that readers see either the old file or the complete new one: the content goes to a temp
/// file in the same folder (same file system, so the rename is atomic), is flushed to disk, then renamed over
/// the target and the folder entry itself is flushed. A failure deletes the temp file and leaves any existing file
/// untouched.
/// </summary>
public static class AtomicFile
{
    /// <summary>Temp files are hidden and end with this: <see cref="AtomicFolder.RemoveLeftovers"/> finds the ones a killed process left.</summary>
    public const string TempSuffix = ".tmp";

    /// <summary>
    /// Writes <paramref name="path"/> atomically: <paramref name="write"/> fills a hidden temp file next to it, which
    /// is fsynced, renamed over the target, and the folder entry fsynced. Missing folders are created.
    /// </summary>
    /// <param name="path">The target file; replaced if it exists.</param>
    /// <param name="write">Writes the content; the stream is flushed and closed afterwards.</param>
    /// <exception cref="ArgumentNullException"><paramref name="write"/> is null.</exception>
    /// <remarks>Whatever <paramref name="write"/> or the file system throws propagates after the temp file is deleted; the old file is untouched.</remarks>
    public static void Write(string path, Action<FileStream> write)
    {
        ArgumentNullException.ThrowIfNull(write);
        string full = Path.GetFullPath(path);
        string folder = Path.GetDirectoryName(full)!;
        Directory.CreateDirectory(folder);
        string temp = Path.Combine(folder, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}{TempSuffix}");
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                write(stream);
                stream.Flush(flushToDisk: true);
            }
            FaultPoint.Hit("atomic-file-rename");
            File.Move(temp, full, overwrite: true);
            SyncDirectory(folder);
        }
        catch
        {
            DeleteQuietly(temp);
            throw;
        }
    }

    /// <summary>
    /// Writes <paramref name="bytes"/> to <paramref name="path"/> atomically, as <see cref="Write"/> does (the span is
    /// copied first, since a lambda cannot capture it).
    /// </summary>
    public static void WriteAllBytes(string path, ReadOnlySpan<byte> bytes)
    {
        byte[] copy = bytes.ToArray();
        Write(path, stream => stream.Write(copy));
    }

    /// <summary>
    /// Writes <paramref name="text"/> as UTF-8 (no byte-order mark) to <paramref name="path"/> atomically, as
    /// <see cref="Write"/> does.
    /// </summary>
    public static void WriteAllText(string path, string text) => WriteAllBytes(path, System.Text.Encoding.UTF8.GetBytes(text));

    /// <summary>
    /// Flushes a folder's entries (renames, new and deleted names) to disk, so a rename survives a power cut and not
    /// only a process crash. A no-op where the platform has no such call (Windows flushes metadata itself).
    /// </summary>
    public static void SyncDirectory(string folder)
    {
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS()) return;
        int fd = Posix.open(folder, 0 /* O_RDONLY */);
        if (fd < 0) return; // a folder we cannot open for reading still had its data files synced
        try { Posix.fsync(fd); }
        finally { Posix.close(fd); }
    }

    // Cleanup must not replace the exception that made us clean up; the temp name is unique and hidden.
    internal static void DeleteQuietly(string temp)
    {
        try { File.Delete(temp); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}
