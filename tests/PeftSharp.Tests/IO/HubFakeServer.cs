using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace PeftSharp.Tests.IO;

/// <summary>
/// A Hugging Face Hub on 127.0.0.1 with the real API's shapes, for tests without network: <c>GET
/// /api/models/{repo}/revision/{rev}</c> (sha, siblings), <c>HEAD|GET /{repo}/resolve/{rev}/{path}</c> (X-Repo-Commit;
/// small files answered directly with their git-sha1 ETag; LFS files a 302 to a CDN on a second port with
/// X-Linked-Etag = sha256 and X-Linked-Size), error codes in X-Error-Code, and a CDN that honours Range and can drop
/// a connection midway or corrupt a file. Every request is recorded.
/// </summary>
public sealed class HubFakeServer : IDisposable
{
    public sealed record Request(string Method, string Path, IReadOnlyDictionary<string, string> Headers, bool ToCdn)
    {
        public string? Header(string name) => Headers.TryGetValue(name.ToLowerInvariant(), out var v) ? v : null;
    }

    public sealed record HubFile(byte[] Content, bool Lfs)
    {
        public string Sha256 => Convert.ToHexStringLower(SHA256.HashData(Content));
        /// <summary>The git blob id, the ETag the Hub gives files stored in git.</summary>
        public string GitSha1 => Convert.ToHexStringLower(SHA1.HashData([.. Encoding.ASCII.GetBytes($"blob {Content.Length}\0"), .. Content]));
        public string ETag => Lfs ? Sha256 : GitSha1;
    }

    sealed class Repo
    {
        public readonly Dictionary<string, string> Refs = new(StringComparer.Ordinal);
        public readonly Dictionary<string, Dictionary<string, HubFile>> Commits = new(StringComparer.Ordinal);
        public string? Token;
    }

    readonly TcpListener hub = new(IPAddress.Loopback, 0), cdn = new(IPAddress.Loopback, 0);
    readonly Dictionary<string, Repo> repos = new(StringComparer.Ordinal);
    readonly ConcurrentQueue<Request> requests = new();
    readonly ConcurrentDictionary<string, (int Bytes, int Times)> drops = new();
    readonly ConcurrentDictionary<string, bool> corrupt = new();
    readonly CancellationTokenSource stop = new();

    public HubFakeServer()
    {
        hub.Start();
        cdn.Start();
        _ = AcceptLoop(hub, toCdn: false);
        _ = AcceptLoop(cdn, toCdn: true);
    }

    public string Endpoint => $"http://127.0.0.1:{((IPEndPoint)hub.LocalEndpoint).Port}";
    string CdnBase => $"http://127.0.0.1:{((IPEndPoint)cdn.LocalEndpoint).Port}";
    public IReadOnlyList<Request> Requests => requests.ToList();
    public void ClearRequests() => requests.Clear();

    /// <summary>Adds a commit to a repo (created on first use) and points <paramref name="branches"/> at it.</summary>
    public void AddCommit(string repo, string commit, IReadOnlyDictionary<string, HubFile> files, params string[] branches)
    {
        lock (repos)
        {
            if (!repos.TryGetValue(repo, out var r)) repos[repo] = r = new Repo();
            r.Commits[commit] = new Dictionary<string, HubFile>(files, StringComparer.Ordinal);
            foreach (var b in branches) r.Refs[b] = commit;
        }
    }

    /// <summary>Makes the repo gated: requests without "Authorization: Bearer <paramref name="token"/>" are refused.</summary>
    public void RequireToken(string repo, string token) { lock (repos) repos[repo].Token = token; }

    /// <summary>The next <paramref name="times"/> CDN downloads of the blob stop after <paramref name="bytes"/> bytes and drop the connection.</summary>
    public void DropAfter(string sha256, int bytes, int times = 1) => drops[sha256] = (bytes, times);

    /// <summary>The CDN serves the blob with one byte flipped (same size).</summary>
    public void Corrupt(string sha256) => corrupt[sha256] = true;

    async Task AcceptLoop(TcpListener listener, bool toCdn)
    {
        while (!stop.IsCancellationRequested)
        {
            TcpClient client;
            try { client = await listener.AcceptTcpClientAsync(stop.Token); }
            catch (Exception) { return; }
            _ = Task.Run(async () =>
            {
                using (client)
                {
                    try { await Serve(client.GetStream(), toCdn); }
                    catch (IOException) { }
                    try { client.Client.Shutdown(SocketShutdown.Both); } catch (SocketException) { }
                }
            });
        }
    }

    async Task Serve(NetworkStream stream, bool toCdn)
    {
        var head = new StringBuilder();
        var one = new byte[1];
        while (!head.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal))
        {
            if (await stream.ReadAsync(one) == 0) return;
            head.Append((char)one[0]);
        }
        var lines = head.ToString().Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
        var first = lines[0].Split(' ');
        var headers = lines.Skip(1).Select(l => l.Split(':', 2)).ToDictionary(p => p[0].Trim().ToLowerInvariant(), p => p[1].Trim());
        var request = new Request(first[0], Uri.UnescapeDataString(first[1]), headers, toCdn);
        requests.Enqueue(request);
        var (status, responseHeaders, body, dropAt) = toCdn ? Cdn(request) : Hub(request);
        var text = new StringBuilder($"HTTP/1.1 {status} {(HttpStatusCode)status}\r\n");
        foreach (var (k, v) in responseHeaders) text.Append($"{k}: {v}\r\n");
        text.Append($"Content-Length: {body.Length}\r\nConnection: close\r\n\r\n");
        await stream.WriteAsync(Encoding.ASCII.GetBytes(text.ToString()));
        if (request.Method == "GET") await stream.WriteAsync(body.AsMemory(0, dropAt ?? body.Length));
        await stream.FlushAsync();
    }

    (int, Dictionary<string, string>, byte[], int?) Hub(Request r)
    {
        var parts = r.Path.Split('?')[0].TrimStart('/').Split('/');
        bool api = parts is ["api", "models", _, _, "revision", ..];
        string repoId = api ? parts[2] + "/" + parts[3] : parts.Length >= 2 ? parts[0] + "/" + parts[1] : "";
        Repo? repo;
        lock (repos) repos.TryGetValue(repoId, out repo);
        if (repo is null) return Error(401, "RepoNotFound", "Repository not found");
        if (repo.Token is { } token && r.Header("Authorization") != "Bearer " + token)
            return r.Header("Authorization") is null ? Error(401, "GatedRepo", "Access to this model is restricted") : Error(403, "GatedRepo", "Your token has no access");
        string revision = api ? string.Join('/', parts[5..]) : parts.Length > 3 ? parts[3] : "";
        string? commit = repo.Commits.ContainsKey(revision) ? revision : repo.Refs.GetValueOrDefault(revision);
        if (commit is null) return Error(404, "RevisionNotFound", "Invalid rev id: " + revision);
        var files = repo.Commits[commit];
        if (api)
        {
            var json = JsonSerializer.Serialize(new { id = repoId, sha = commit, siblings = files.Keys.Select(f => new { rfilename = f }) });
            return (200, new() { ["Content-Type"] = "application/json" }, Encoding.UTF8.GetBytes(json), null);
        }
        if (parts.Length < 5 || parts[2] != "resolve") return Error(404, null, "Not found");
        var path = string.Join('/', parts[4..]);
        if (!files.TryGetValue(path, out var file)) return Error(404, "EntryNotFound", "Entry not found");
        var headers = new Dictionary<string, string> { ["X-Repo-Commit"] = commit, ["ETag"] = $"\"{file.GitSha1}\"" };
        if (!file.Lfs) return (200, headers, file.Content, null);
        headers["X-Linked-Etag"] = $"\"{file.Sha256}\"";
        headers["X-Linked-Size"] = file.Content.Length.ToString();
        headers["Location"] = $"{CdnBase}/cdn/{file.Sha256}";
        return (302, headers, [], null);
    }

    (int, Dictionary<string, string>, byte[], int?) Cdn(Request r)
    {
        var sha = r.Path.Split('/').Last();
        HubFile? file;
        lock (repos) file = repos.Values.SelectMany(x => x.Commits.Values).SelectMany(c => c.Values).FirstOrDefault(f => f.Lfs && f.Sha256 == sha);
        if (file is null) return Error(404, null, "No such blob");
        var content = file.Content;
        if (corrupt.ContainsKey(sha)) { content = [.. content]; content[content.Length / 2] ^= 0xFF; }
        int? dropAt = null;
        if (drops.TryGetValue(sha, out var drop) && drop.Times > 0)
        {
            drops[sha] = drop with { Times = drop.Times - 1 };
            dropAt = drop.Bytes;
        }
        long from = r.Header("Range") is { } range && range.StartsWith("bytes=", StringComparison.Ordinal) ? long.Parse(range[6..].TrimEnd('-')) : 0;
        var headers = new Dictionary<string, string> { ["ETag"] = $"\"{sha}\"" };
        if (from == 0) return (200, headers, content, dropAt);
        if (from >= content.Length) return (416, headers, [], null);
        headers["Content-Range"] = $"bytes {from}-{content.Length - 1}/{content.Length}";
        var rest = content[(int)from..];
        return (206, headers, rest, dropAt is { } d ? Math.Min(d, rest.Length) : null);
    }

    static (int, Dictionary<string, string>, byte[], int?) Error(int status, string? code, string message)
    {
        var headers = new Dictionary<string, string> { ["X-Error-Message"] = message };
        if (code is not null) headers["X-Error-Code"] = code;
        return (status, headers, Encoding.UTF8.GetBytes($"{{\"error\":\"{message}\"}}"), null);
    }

    public void Dispose()
    {
        stop.Cancel();
        hub.Stop();
        cdn.Stop();
    }
}
