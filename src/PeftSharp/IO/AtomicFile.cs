namespace PeftSharp.IO;

/// <summary>
/// Writes a file so that readers see either the old file or the complete new one: the content goes to a temp
/// file in the same folder (same file system, so the rename is atomic), is flushed to disk, then renamed over
/// the target. A failure deletes the temp file and leaves any existing file untouched.
/// </summary>
public static class AtomicFile
{
    public static void Write(string path, Action<FileStream> write)
    {
        ArgumentNullException.ThrowIfNull(write);
        string full = Path.GetFullPath(path);
        string folder = Path.GetDirectoryName(full)!;
        Directory.CreateDirectory(folder);
        string temp = Path.Combine(folder, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                write(stream);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: true);
        }
        catch
        {
            DeleteQuietly(temp);
            throw;
        }
    }

    public static void WriteAllBytes(string path, ReadOnlySpan<byte> bytes)
    {
        byte[] copy = bytes.ToArray();
        Write(path, stream => stream.Write(copy));
    }

    // Cleanup must not replace the exception that made us clean up; the temp name is unique and hidden.
    private static void DeleteQuietly(string temp)
    {
        try { File.Delete(temp); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}
