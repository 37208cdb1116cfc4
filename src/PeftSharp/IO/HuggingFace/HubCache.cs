using PeftSharp.IO.SafeTensors;

namespace PeftSharp.IO.HuggingFace;

/// <summary>
/// One repo's folder in the Hugging Face cache, in huggingface_hub's layout, so either tool reuses what the other
/// downloaded: <c>models--org--name/blobs/&lt;etag&gt;</c> (file contents, named by their sha256 (LFS) or git sha1),
/// <c>refs/&lt;revision&gt;</c> (the commit a branch or tag pointed at) and
/// <c>snapshots/&lt;commit&gt;/&lt;path&gt;</c> (relative symlinks into blobs).
/// </summary>
public sealed class HubCache
{
    /// <summary>The repo's cache folder, <c>&lt;cache&gt;/models--org--name</c>.</summary>
    public string Folder { get; }

    /// <summary>The cache folder of <paramref name="id"/>'s repo under <paramref name="cacheDir"/> (not created).</summary>
    public HubCache(string cacheDir, HubRepoId id) => Folder = Path.Combine(Path.GetFullPath(cacheDir), id.CacheFolderName);

    /// <summary>Where a file's content lives, named by its ETag.</summary>
    public string BlobPath(string etag) => Path.Combine(Folder, "blobs", etag);

    /// <summary>The partial download of a blob, kept between runs so the next one resumes it.</summary>
    public string IncompletePath(string etag) => BlobPath(etag) + ".incomplete";

    /// <summary>The folder of one commit's files.</summary>
    public string SnapshotFolder(string commit) => Path.Combine(Folder, "snapshots", commit);

    /// <summary>The file that names the commit a branch or tag pointed at when it was last downloaded.</summary>
    public string RefPath(string revision) => Path.Combine([Folder, "refs", .. revision.Split('/')]);

    /// <summary>The commit <paramref name="revision"/> stands for here: itself when it is a commit sha, else its ref's content (null without one).</summary>
    public string? CommitOf(string revision) =>
        HubRepoId.IsCommit(revision) ? revision
        : File.Exists(RefPath(revision)) && File.ReadAllText(RefPath(revision)).Trim() is var c && HubRepoId.IsCommit(c) ? c
        : null;

    /// <summary>Records that <paramref name="revision"/> points at <paramref name="commit"/> (nothing for a commit sha, or an unchanged ref).</summary>
    public void WriteRef(string revision, string commit)
    {
        if (revision == commit || CommitOf(revision) == commit) return;
        // huggingface_hub writes the bare sha, without a newline.
        AtomicFile.WriteAllText(RefPath(revision), commit);
    }

    /// <summary>
    /// The cached folder of <paramref name="id"/> (its snapshot, or the snapshot's subfolder) when it exists; null
    /// otherwise, with <paramref name="lookedAt"/> naming the last place looked. See <see cref="LooksComplete"/>.
    /// </summary>
    public string? FindFolder(HubRepoId id, out string lookedAt)
    {
        lookedAt = Folder;
        if (!Directory.Exists(Folder)) return null;
        lookedAt = RefPath(id.Revision);
        if (CommitOf(id.Revision) is not { } commit) return null;
        var folder = SnapshotFolder(commit);
        if (id.Subfolder is { } sub) folder = Path.Combine([folder, .. sub.Split('/')]);
        lookedAt = folder;
        return Directory.Exists(folder) ? folder : null;
    }

    /// <summary>
    /// Points <c>snapshots/&lt;commit&gt;/&lt;path&gt;</c> at its blob with a relative symlink, as huggingface_hub does
    /// (a copy where the file system has no symlinks). The link is made under a temp name and renamed into place.
    /// </summary>
    public string Link(string commit, string repoPath, string etag)
    {
        var pointer = Path.Combine([SnapshotFolder(commit), .. repoPath.Split('/')]);
        var folder = Path.GetDirectoryName(pointer)!;
        Directory.CreateDirectory(folder);
        var temp = Path.Combine(folder, $".{Path.GetFileName(pointer)}.{Guid.NewGuid():N}{AtomicFile.TempSuffix}");
        try
        {
            try { File.CreateSymbolicLink(temp, Path.GetRelativePath(folder, BlobPath(etag))); }
            catch (Exception e) when (OperatingSystem.IsWindows() && e is IOException or UnauthorizedAccessException) { File.Copy(BlobPath(etag), temp); }
            File.Move(temp, pointer, overwrite: true);
        }
        catch
        {
            AtomicFile.DeleteQuietly(temp);
            throw;
        }
        return pointer;
    }

    /// <summary>
    /// Whether a cached folder holds a whole model rather than what a partial download (or a Python call that
    /// fetched only config.json) left: every shard its index names, else config.json with safetensors beside it,
    /// else (llama2.c) a .bin file.
    /// </summary>
    public static bool LooksComplete(string folder)
    {
        var index = Path.Combine(folder, ShardedSafeTensors.IndexFileName);
        if (File.Exists(index))
        {
            try { ShardedSafeTensors.Open(index).Dispose(); return true; }
            catch (InvalidFileFormatException) { return false; }
        }
        if (File.Exists(Path.Combine(folder, "config.json"))) return Directory.EnumerateFiles(folder, "*.safetensors").Any();
        return Directory.EnumerateFiles(folder, "*.bin").Any();
    }
}
