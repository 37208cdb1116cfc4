using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace PeftSharp.IO.HuggingFace;

/// <summary>A repo at one commit: the commit sha a revision resolved to, and every file in it.</summary>
/// <param name="Commit">The 40-hex commit sha.</param>
/// <param name="Files">The repo's file paths (<c>siblings[].rfilename</c>).</param>
public sealed record HubRevision(string Commit, IReadOnlyList<string> Files);

/// <summary>What the Hub says about one file before it is downloaded.</summary>
/// <param name="Commit">The commit the file was resolved at (<c>X-Repo-Commit</c>).</param>
/// <param name="ETag">Its blob name: the sha256 of an LFS file (<c>X-Linked-Etag</c>), else its git sha1 (<c>ETag</c>).</param>
/// <param name="Size">Its size in bytes (<c>X-Linked-Size</c>, else <c>Content-Length</c>), when given.</param>
/// <param name="Location">Where to GET it: the resolve URL, or the CDN address it redirects to.</param>
public sealed record HubFileMetadata(string Commit, string ETag, long? Size, Uri Location);

/// <summary>
/// The Hub's HTTP API as huggingface_hub uses it: <c>GET /api/models/{repo}/revision/{rev}</c> for the commit and
/// file list, <c>HEAD /{repo}/resolve/{commit}/{path}</c> (redirects not followed) for a file's ETag, size and
/// download location, and a GET of that location, with a Range header to resume. The token goes to the Hub's own
/// host only, never to a CDN it redirects to. Every failure becomes a <see cref="HubException"/> naming the fix.
/// </summary>
public sealed partial class HubClient
{
    static readonly HttpClient Http = new(new SocketsHttpHandler
    {
        AllowAutoRedirect = false, // redirects are followed by hand: the 302 of an LFS file carries its ETag and size
        ConnectTimeout = TimeSpan.FromSeconds(15),
        AutomaticDecompression = DecompressionMethods.None,
    })
    {
        Timeout = Timeout.InfiniteTimeSpan,
        DefaultRequestHeaders = { { "User-Agent", "peftsharp" } },
    };

    static readonly TimeSpan HeadersTimeout = TimeSpan.FromSeconds(30);
    const int MaxRedirects = 10;

    [GeneratedRegex(@"^[A-Za-z0-9][\w\-.]*$")]
    private static partial Regex EtagPattern();

    readonly HubOptions options;
    readonly Uri endpoint;

    /// <summary>A client for <see cref="HubOptions.Endpoint"/>, sending <see cref="HubOptions.Token"/> when set.</summary>
    public HubClient(HubOptions options)
    {
        this.options = options;
        if (!Uri.TryCreate(options.Endpoint.TrimEnd('/') + "/", UriKind.Absolute, out var e) || e.Scheme is not ("http" or "https"))
            throw new ConfigurationException($"HF_ENDPOINT '{options.Endpoint}' is not an http(s) address: set it to e.g. {HubOptions.DefaultEndpoint}, or unset it");
        endpoint = e;
    }

    /// <summary>The commit <paramref name="id"/>'s revision points at, and the files of the repo there.</summary>
    public async Task<HubRevision> RevisionAsync(HubRepoId id, CancellationToken ct = default)
    {
        var url = new Uri(endpoint, $"api/models/{id.Repo}/revision/{Uri.EscapeDataString(id.Revision)}");
        using var response = await SendAsync(HttpMethod.Get, url, 0, id, null, ct).ConfigureAwait(false);
        var body = await response.Content.ReadAsByteArrayAsync(ct).ConfigureAwait(false);
        try
        {
            using var doc = JsonDocument.Parse(body);
            var root = doc.RootElement;
            var sha = root.TryGetProperty("sha", out var s) && s.ValueKind == JsonValueKind.String ? s.GetString()! : "";
            if (!HubRepoId.IsCommit(sha)) throw new JsonException("no 40-hex \"sha\"");
            var files = root.TryGetProperty("siblings", out var list) && list.ValueKind == JsonValueKind.Array
                ? list.EnumerateArray().Select(f => f.TryGetProperty("rfilename", out var n) ? n.GetString() : null).OfType<string>().ToList()
                : throw new JsonException("no \"siblings\" list");
            return new HubRevision(sha, files);
        }
        catch (JsonException e)
        {
            throw new HubException($"{url} did not answer with a Hub model description ({e.Message}): check HF_ENDPOINT ({options.Endpoint}) points at a Hugging Face Hub or mirror", e);
        }
    }

    /// <summary>
    /// HEAD of <c>/{repo}/resolve/{commit}/{path}</c>: the file's ETag, size and where to download it. Relative
    /// redirects (a renamed repo) are followed; an absolute one (an LFS file on the CDN) becomes the location.
    /// </summary>
    public async Task<HubFileMetadata> MetadataAsync(HubRepoId id, string commit, string path, CancellationToken ct = default)
    {
        var url = ResolveUrl(id.Repo, commit, path);
        for (int hop = 0; ; hop++)
        {
            using var response = await SendAsync(HttpMethod.Head, url, 0, id, path, ct, followRedirects: false).ConfigureAwait(false);
            var location = response.Headers.Location;
            if ((int)response.StatusCode is >= 300 and < 400 && location is not null)
            {
                if (!location.IsAbsoluteUri && hop < MaxRedirects) { url = new Uri(url, location); continue; }
                return Metadata(response, new Uri(url, location), id, path);
            }
            return Metadata(response, url, id, path);
        }
    }

    /// <summary>
    /// GET of a file's <paramref name="location"/> from byte <paramref name="offset"/> on (a Range request when
    /// above 0), following redirects. The caller reads and disposes the response: 200 (the whole file), 206 (the
    /// rest) or 416 (nothing left to send).
    /// </summary>
    public Task<HttpResponseMessage> DownloadAsync(Uri location, long offset, HubRepoId id, string path, CancellationToken ct = default) =>
        SendAsync(HttpMethod.Get, location, offset, id, path, ct);

    Uri ResolveUrl(string repo, string commit, string path) =>
        new(endpoint, $"{repo}/resolve/{commit}/{string.Join('/', path.Split('/').Select(Uri.EscapeDataString))}");

    HubFileMetadata Metadata(HttpResponseMessage r, Uri location, HubRepoId id, string path)
    {
        var commit = Header(r, "X-Repo-Commit");
        var etag = NormalizeEtag(Header(r, "X-Linked-Etag") ?? Header(r, "ETag"));
        var size = long.TryParse(Header(r, "X-Linked-Size"), out var linked) ? linked : r.Content.Headers.ContentLength;
        if (commit is null || !HubRepoId.IsCommit(commit))
            throw new HubException($"{options.Endpoint} answered for {id.Repo}/{path} without an X-Repo-Commit header: HF_ENDPOINT does not look like a Hugging Face Hub (unset it, or point it at one)");
        if (etag is null || !EtagPattern().IsMatch(etag))
            throw new HubException($"{options.Endpoint} gave {id.Repo}/{path} no usable ETag ('{etag}'), so it cannot be cached safely: check HF_ENDPOINT points at a Hugging Face Hub or mirror");
        return new HubFileMetadata(commit, etag, size, location);
    }

    /// <summary>huggingface_hub's normalization: drop a weak marker (W/) and the quotes.</summary>
    static string? NormalizeEtag(string? etag) =>
        etag?.Trim() is { } e ? (e.StartsWith("W/", StringComparison.Ordinal) ? e[2..] : e).Trim('"') : null;

    /// <summary>A header's first value as sent (not validated: an unquoted ETag is still read).</summary>
    internal static string? Header(HttpResponseMessage r, string name) =>
        r.Headers.NonValidated.TryGetValues(name, out var v) || r.Content.Headers.NonValidated.TryGetValues(name, out v)
            ? v.FirstOrDefault() : null;

    async Task<HttpResponseMessage> SendAsync(HttpMethod method, Uri url, long offset, HubRepoId id, string? path, CancellationToken ct, bool followRedirects = true)
    {
        for (int hop = 0; ; hop++)
        {
            using var request = new HttpRequestMessage(method, url);
            if (options.Token is { } token && SameOrigin(url)) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            if (offset > 0) request.Headers.Range = new RangeHeaderValue(offset, null);
            request.Headers.AcceptEncoding.Add(new StringWithQualityHeaderValue("identity")); // sizes must be the file's own
            HttpResponseMessage response;
            using (var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct))
            {
                timeout.CancelAfter(HeadersTimeout);
                try
                {
                    response = await Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token).ConfigureAwait(false);
                }
                catch (Exception e) when (e is HttpRequestException || (e is OperationCanceledException && !ct.IsCancellationRequested))
                {
                    throw Unreachable(url, e);
                }
            }
            int status = (int)response.StatusCode;
            if (followRedirects && status is >= 300 and < 400 && response.Headers.Location is { } next && hop < MaxRedirects)
            {
                response.Dispose();
                url = new Uri(url, next);
                continue;
            }
            if (status < 400 || (status == 416 && offset > 0)) return response;
            using (response) throw HubErrors.FromResponse(response, options, id, path);
        }
    }

    bool SameOrigin(Uri url) => Uri.Compare(url, endpoint, UriComponents.SchemeAndServer, UriFormat.Unescaped, StringComparison.OrdinalIgnoreCase) == 0;

    /// <summary>The error for a Hub that cannot be reached (DNS, refused connection, TLS, timeout).</summary>
    internal HubException Unreachable(Uri url, Exception e) =>
        new($"could not reach {url.GetLeftPart(UriPartial.Authority)} ({e.Message}): check your network connection " +
            $"(and HF_ENDPOINT, now {options.Endpoint}), or set HF_HUB_OFFLINE=1 to use only models already in the cache", e);
}
