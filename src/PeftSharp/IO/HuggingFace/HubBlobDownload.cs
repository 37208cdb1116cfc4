using System.Net;
using System.Security.Cryptography;

namespace PeftSharp.IO.HuggingFace;

/// <summary>
/// Downloads one file into <c>blobs/&lt;etag&gt;</c>: bytes go to <c>blobs/&lt;etag&gt;.incomplete</c> (kept between
/// runs), a dropped connection resumes with a Range request, and only a file of the announced size whose sha256
/// equals an LFS ETag is renamed into place; a mismatch deletes it. The .incomplete file is held exclusively, so two
/// processes never write the same blob.
/// </summary>
static class HubBlobDownload
{
    const int MaxAttempts = 5;
    static readonly TimeSpan StallTimeout = TimeSpan.FromSeconds(60);

    public static async Task FetchAsync(HubClient client, HubCache cache, HubRepoId id, string path, HubFileMetadata meta,
        HubOptions options, CancellationToken ct)
    {
        var incomplete = cache.IncompletePath(meta.ETag);
        Disk(incomplete, () => Directory.CreateDirectory(Path.GetDirectoryName(incomplete)!));
        long total;
        using (var file = OpenExclusive(incomplete, path, options))
        {
            if (meta.Size is { } size && file.Length > size) file.SetLength(0); // a stale partial file longer than the blob
            options.Progress?.Invoke(new HubFileProgress(path, HubFileEvent.Started, file.Length, meta.Size));
            for (int attempt = 1; ; attempt++)
            {
                long before = file.Length;
                try
                {
                    await TransferAsync(client, id, path, meta, file, options, ct).ConfigureAwait(false);
                    break;
                }
                catch (HubInterruption e)
                {
                    // Progress made counts as a fresh start: only a connection that keeps failing gives up.
                    if (file.Length > before) attempt = 1;
                    if (attempt >= MaxAttempts)
                        throw new HubException($"downloading {id.Repo}/{path} kept failing after {file.Length:N0} of {meta.Size?.ToString("N0") ?? "?"} bytes " +
                            $"({e.InnerException!.Message}): run the same command again to resume from {incomplete}, or check your network connection", e.InnerException);
                    await Task.Delay(TimeSpan.FromMilliseconds(250 * attempt), ct).ConfigureAwait(false);
                }
            }
            total = file.Length;
            Verify(file, meta, id, path, incomplete);
        }
        Disk(incomplete, () =>
        {
            File.Move(incomplete, cache.BlobPath(meta.ETag), overwrite: true);
            AtomicFile.SyncDirectory(Path.GetDirectoryName(incomplete)!);
        });
        options.Progress?.Invoke(new HubFileProgress(path, HubFileEvent.Completed, total, total));
    }

    /// <summary>One GET from where the file ends, to its end. Network trouble is a <see cref="HubInterruption"/>.</summary>
    static async Task TransferAsync(HubClient client, HubRepoId id, string path, HubFileMetadata meta, FileStream file, HubOptions options, CancellationToken ct)
    {
        long offset = file.Length;
        HttpResponseMessage response;
        try { response = await client.DownloadAsync(meta.Location, offset, id, path, ct).ConfigureAwait(false); }
        catch (HubException e) when (e.StatusCode is null && e.InnerException is not null) { throw new HubInterruption(e.InnerException); }
        using (response)
        {
            if (response.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable)
            {
                if (meta.Size is null || offset == meta.Size) return; // nothing was missing
                Disk(file.Name, () => file.SetLength(0));
                throw new HubInterruption(new IOException($"the server would not resume at byte {offset:N0}"));
            }
            if (response.StatusCode != HttpStatusCode.PartialContent || response.Content.Headers.ContentRange?.From != offset)
            {
                offset = 0; // the server sent the whole file (it ignored the Range, or none was asked)
                Disk(file.Name, () => file.SetLength(0));
            }
            file.Position = offset;
            var buffer = new byte[1 << 20];
            try
            {
                using var body = await response.Content.ReadAsStreamAsync(ct).ConfigureAwait(false);
                while (true)
                {
                    using var stall = CancellationTokenSource.CreateLinkedTokenSource(ct);
                    stall.CancelAfter(StallTimeout);
                    int n = await body.ReadAsync(buffer, stall.Token).ConfigureAwait(false);
                    if (n == 0) break;
                    Disk(file.Name, () => file.Write(buffer, 0, n));
                    options.Progress?.Invoke(new HubFileProgress(path, HubFileEvent.Advanced, file.Length, meta.Size));
                }
            }
            catch (Exception e) when (e is IOException or HttpRequestException || (e is OperationCanceledException && !ct.IsCancellationRequested))
            {
                Disk(file.Name, () => file.Flush(flushToDisk: true));
                throw new HubInterruption(e);
            }
            Disk(file.Name, () => file.Flush(flushToDisk: true));
            // A body that ends early without an error (a proxy that closes cleanly) is resumed like a dropped one.
            if (meta.Size is { } size && file.Length < size) throw new HubInterruption(new IOException($"the connection closed after {file.Length:N0} of {size:N0} bytes"));
        }
    }

    /// <summary>The size must match; an LFS file's ETag is its sha256, which must match too. A bad file is deleted.</summary>
    static void Verify(FileStream file, HubFileMetadata meta, HubRepoId id, string path, string incomplete)
    {
        string? problem = null;
        if (meta.Size is { } size && file.Length != size) problem = $"it has {file.Length:N0} bytes where the Hub announced {size:N0}";
        else if (meta.ETag.Length == 64 && meta.ETag.All(char.IsAsciiHexDigitLower))
        {
            file.Position = 0;
            var actual = Convert.ToHexStringLower(SHA256.HashData(file));
            if (actual != meta.ETag) problem = $"its sha256 is {actual} where the Hub's ETag says {meta.ETag}";
        }
        if (problem is null) return;
        file.Dispose();
        File.Delete(incomplete);
        throw new HubException($"the download of {id.Repo}/{path} is corrupted: {problem}. The bad file was deleted: run the command again " +
            "to download it afresh; if it happens again, a proxy or the mirror in HF_ENDPOINT is altering the file");
    }

    static FileStream OpenExclusive(string incomplete, string path, HubOptions options)
    {
        try
        {
            return new FileStream(incomplete, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1 << 16);
        }
        catch (IOException e) when (File.Exists(incomplete))
        {
            throw new HubException($"{path} is being downloaded by another process into {incomplete} ({e.Message}): wait for it to finish, then run this again", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw DiskError(incomplete, options.CacheDir, e);
        }
    }

    /// <summary>Runs a file-system step, naming the cache folder and the fix when the disk fails (full, read-only).</summary>
    internal static void Disk(string path, Action step)
    {
        try { step(); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw DiskError(path, Path.GetDirectoryName(path)!, e);
        }
    }

    static HubException DiskError(string path, string folder, Exception e) =>
        new($"could not write {path} ({e.Message}): free some space on the disk of {folder} and check it is writable, " +
            "or set HF_HUB_CACHE (or HF_HOME) to a folder that is", e);

    /// <summary>A transfer that stopped because of the network; it is retried from where it stopped.</summary>
    sealed class HubInterruption(Exception inner) : Exception(inner.Message, inner);
}
