namespace PeftSharp.IO;

/// <summary>
/// Folders that appear complete or not at all (checkpoints, saved models): filled under a hidden temporary name,
/// then renamed into place. Replacing or deleting a folder first renames it aside, so a crash never leaves a
/// half-deleted folder under a name that readers trust.
/// </summary>
public static class AtomicFolder
{
    const string TempMarker = ".tmp-";
    const string TrashMarker = ".trash-";

    /// <summary>A fresh, empty hidden folder beside <paramref name="final"/> to fill before <see cref="Commit"/>.</summary>
    public static string CreateTemp(string final)
    {
        var full = Path.GetFullPath(final);
        var tmp = Path.Combine(Path.GetDirectoryName(full)!, $".{Path.GetFileName(full)}{TempMarker}{Environment.ProcessId}");
        if (Directory.Exists(tmp)) Directory.Delete(tmp, true);
        Directory.CreateDirectory(tmp);
        return tmp;
    }

    /// <summary>Renames the filled temp folder to <paramref name="final"/>, replacing what was there, and flushes the parent's entries.</summary>
    public static void Commit(string tmp, string final)
    {
        var full = Path.GetFullPath(final);
        var parent = Path.GetDirectoryName(full)!;
        // Each file's data was flushed by its writer (AtomicFile); the folders' entries are flushed here.
        foreach (var dir in Directory.EnumerateDirectories(tmp, "*", SearchOption.AllDirectories).Append(tmp)) AtomicFile.SyncDirectory(dir);
        string? aside = Directory.Exists(full) ? MoveAside(full) : null;
        FaultPoint.Hit("folder-commit");
        Directory.Move(tmp, full);
        AtomicFile.SyncDirectory(parent);
        if (aside is not null) Directory.Delete(aside, true);
    }

    /// <summary>Deletes a folder so that its name disappears at once (a rename) before its files do.</summary>
    public static void Delete(string folder) => Directory.Delete(MoveAside(folder), true);

    /// <summary>Removes a failed save's temp folder without masking the error that caused the cleanup.</summary>
    public static void DeleteQuietly(string folder)
    {
        try { if (Directory.Exists(folder)) Directory.Delete(folder, true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }

    /// <summary>
    /// Deletes what killed processes left in <paramref name="folder"/>: temp folders, folders renamed aside for
    /// deletion and temp files of <see cref="AtomicFile"/>. Call only while holding the folder's lock.
    /// </summary>
    public static IReadOnlyList<string> RemoveLeftovers(string folder)
    {
        if (!Directory.Exists(folder)) return Array.Empty<string>();
        var removed = new List<string>();
        foreach (var dir in Directory.EnumerateDirectories(folder))
        {
            var name = Path.GetFileName(dir);
            if (name.StartsWith('.') && (name.Contains(TempMarker) || name.Contains(TrashMarker)))
            {
                DeleteQuietly(dir);
                removed.Add(name);
            }
        }
        foreach (var file in Directory.EnumerateFiles(folder, "." + "*" + AtomicFile.TempSuffix))
        {
            AtomicFile.DeleteQuietly(file);
            removed.Add(Path.GetFileName(file));
        }
        return removed;
    }

    static string MoveAside(string folder)
    {
        var full = Path.GetFullPath(folder);
        var aside = Path.Combine(Path.GetDirectoryName(full)!, $".{Path.GetFileName(full)}{TrashMarker}{Guid.NewGuid():N}");
        Directory.Move(full, aside);
        return aside;
    }
}
