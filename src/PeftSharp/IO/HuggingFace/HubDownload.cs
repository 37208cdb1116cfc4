namespace PeftSharp.IO.HuggingFace;

/// <summary>
/// Downloads the files a model needs (<see cref="HubFileFilter"/>) from the Hub into the Hugging Face cache, as
/// huggingface_hub's snapshot_download does: what the cache already holds is linked, not fetched again. Snapshot
/// links and the ref of a branch or tag are written once every blob is in place, so a failed download leaves the
/// snapshot untouched and no ref pointing at a half-downloaded one.
/// </summary>
public static class HubDownload
{
    /// <summary>Downloads <paramref name="id"/> and returns its folder (the snapshot, or the subfolder in it).</summary>
    /// <exception cref="HubException">Access refused, not found, network or disk failure, a corrupted file, or offline with nothing cached.</exception>
    public static string Model(HubRepoId id, HubOptions options) => ModelAsync(id, options).GetAwaiter().GetResult();

    /// <inheritdoc cref="Model"/>
    public static async Task<string> ModelAsync(HubRepoId id, HubOptions options, CancellationToken ct = default)
    {
        var cache = new HubCache(options.CacheDir, id);
        if (options.Offline) return cache.FindFolder(id, out var lookedAt) ?? throw OfflineMiss(id, lookedAt);
        var client = new HubClient(options);
        var revision = await client.RevisionAsync(id, ct).ConfigureAwait(false);
        var files = HubFileFilter.Select(revision.Files, id.Subfolder, options.Include);
        if (files.Count == 0) throw NothingToDownload(id, revision);
        // Every blob first, then every link: a failure leaves the snapshot as it was (finished blobs stay for the next try).
        var links = new List<(string Path, string ETag)>();
        foreach (var path in files)
        {
            var pointer = Path.Combine([cache.SnapshotFolder(revision.Commit), .. path.Split('/')]);
            if (File.Exists(pointer)) // follows the link: a dangling one is fetched again
            {
                options.Progress?.Invoke(new HubFileProgress(path, HubFileEvent.Cached, LinkedLength(pointer), null));
                continue;
            }
            var meta = await client.MetadataAsync(id, revision.Commit, path, ct).ConfigureAwait(false);
            var blob = cache.BlobPath(meta.ETag);
            if (File.Exists(blob)) options.Progress?.Invoke(new HubFileProgress(path, HubFileEvent.Cached, new FileInfo(blob).Length, meta.Size));
            else await HubBlobDownload.FetchAsync(client, cache, id, path, meta, options, ct).ConfigureAwait(false);
            links.Add((path, meta.ETag));
        }
        foreach (var (path, etag) in links) HubBlobDownload.Disk(cache.SnapshotFolder(revision.Commit), () => cache.Link(revision.Commit, path, etag));
        HubBlobDownload.Disk(cache.RefPath(id.Revision), () => cache.WriteRef(id.Revision, revision.Commit));
        var folder = cache.SnapshotFolder(revision.Commit);
        return id.Subfolder is { } sub ? Path.Combine([folder, .. sub.Split('/')]) : folder;
    }

    /// <summary>The size of the file a snapshot entry links to (FileInfo.Length would be the link's own).</summary>
    static long LinkedLength(string pointer)
    {
        var info = new FileInfo(pointer);
        return (info.ResolveLinkTarget(returnFinalTarget: true) as FileInfo ?? info).Length;
    }

    /// <summary>The error for HF_HUB_OFFLINE=1 when the cache does not have the model.</summary>
    public static HubException OfflineMiss(HubRepoId id, string lookedAt) =>
        new($"{id.Repo} ({id.Revision}) is not in the Hugging Face cache (looked for {lookedAt}) and HF_HUB_OFFLINE is set, so it cannot be downloaded: " +
            $"download it while online (`peftsharp download {id.Repo}{(id.Subfolder is null ? "" : "/" + id.Subfolder)}`), unset HF_HUB_OFFLINE, or point HF_HUB_CACHE / HF_HOME at the cache that has it");

    static HubException NothingToDownload(HubRepoId id, HubRevision revision)
    {
        var prefix = id.Subfolder is null ? "" : id.Subfolder + "/";
        var here = revision.Files.Where(f => f.StartsWith(prefix, StringComparison.Ordinal)).Select(f => f[prefix.Length..]).ToList();
        if (here.Count == 0)
        {
            var folders = revision.Files.Where(f => f.Contains('/')).Select(f => f[..f.IndexOf('/')]).Distinct().Take(12);
            return new HubException($"{id.Repo} has no folder '{id.Subfolder}' at {id.Revision}: check the part of the id after {id.Repo}/; its folders are: {string.Join(", ", folders.DefaultIfEmpty("(none)"))}");
        }
        var pickles = here.Where(PickleCheckpoints.HasPickleExtension).ToList();
        return new HubException($"{id.Repo}{(id.Subfolder is null ? "" : "/" + id.Subfolder)} has no files PeftSharp loads (safetensors weights, config.json, tokenizer); it holds: {string.Join(", ", here.Take(12))}" +
            (pickles.Count > 0 ? ". Its pickle checkpoints are only downloaded when named (--include), and are then refused at load time unless they are llama2.c files: look for a safetensors version of this model" : ""));
    }
}
