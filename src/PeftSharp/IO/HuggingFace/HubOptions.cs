namespace PeftSharp.IO.HuggingFace;

/// <summary>
/// Where and how to download from the Hugging Face Hub. The library takes these as given (so parallel callers can
/// use different hubs and caches); <see cref="FromEnvironment"/> reads them the way huggingface_hub does.
/// </summary>
public sealed record HubOptions
{
    /// <summary>The public Hub, used when HF_ENDPOINT is not set.</summary>
    public const string DefaultEndpoint = "https://huggingface.co";

    /// <summary>The Hub's base address (a mirror, or a local server in tests), without a trailing slash.</summary>
    public string Endpoint { get; init; } = DefaultEndpoint;

    /// <summary>The hub cache folder holding models--org--name folders (huggingface_hub's HF_HUB_CACHE).</summary>
    public required string CacheDir { get; init; }

    /// <summary>A Hub access token sent as "Authorization: Bearer", for gated and private repos; null sends none.</summary>
    public string? Token { get; init; }

    /// <summary>No network at all: only what the cache holds is used (HF_HUB_OFFLINE=1).</summary>
    public bool Offline { get; init; }

    /// <summary>
    /// Glob patterns (<c>*</c>, <c>?</c>) of further files to download beside the default selection, matched
    /// against paths relative to the downloaded folder; the only way to get pickle checkpoints.
    /// </summary>
    public IReadOnlyList<string> Include { get; init; } = [];

    /// <summary>Told about each file as it is checked, downloaded and finished; null for silence.</summary>
    public Action<HubFileProgress>? Progress { get; init; }

    /// <summary>
    /// The options huggingface_hub would use: HF_ENDPOINT, HF_HUB_CACHE (else $HF_HOME/hub), HF_TOKEN (else the
    /// token file $HF_TOKEN_PATH, default $HF_HOME/token, that `huggingface-cli login` writes) and HF_HUB_OFFLINE.
    /// </summary>
    public static HubOptions FromEnvironment() => new()
    {
        Endpoint = Variable("HF_ENDPOINT")?.TrimEnd('/') ?? DefaultEndpoint,
        CacheDir = CacheDirFromEnvironment(),
        Token = Variable("HF_TOKEN") ?? Variable("HUGGING_FACE_HUB_TOKEN") ?? TokenFile(),
        Offline = Variable("HF_HUB_OFFLINE")?.ToUpperInvariant() is "1" or "ON" or "YES" or "TRUE",
    };

    /// <summary>The hub cache folder: $HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub.</summary>
    public static string CacheDirFromEnvironment() => Variable("HF_HUB_CACHE") ?? Path.Combine(HfHome(), "hub");

    /// <summary>$HF_HOME, else $XDG_CACHE_HOME/huggingface, else ~/.cache/huggingface.</summary>
    static string HfHome()
    {
        if (Variable("HF_HOME") is { } home) return home;
        var xdg = Variable("XDG_CACHE_HOME") ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
        return Path.Combine(xdg, "huggingface");
    }

    static string? TokenFile()
    {
        var path = Variable("HF_TOKEN_PATH") ?? Path.Combine(HfHome(), "token");
        try
        {
            return File.Exists(path) && File.ReadAllText(path).Trim() is { Length: > 0 } token ? token : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Local models need no token: an unreadable token file must not stop them. A gated download then says 401.
            Diagnostics.Warn($"the Hugging Face token file {path} could not be read ({e.Message}); continuing without a token");
            return null;
        }
    }

    static string? Variable(string name) => Environment.GetEnvironmentVariable(name) is { Length: > 0 } v ? v.Trim() : null;
}

/// <summary>What happened to one file of a Hub download.</summary>
public enum HubFileEvent
{
    /// <summary>Already in the cache (its blob, or the snapshot entry): nothing to fetch.</summary>
    Cached,
    /// <summary>The transfer begins (or resumes at <see cref="HubFileProgress.BytesDone"/>).</summary>
    Started,
    /// <summary>More bytes arrived.</summary>
    Advanced,
    /// <summary>Complete and verified, in the cache.</summary>
    Completed,
}

/// <summary>One step of one file's download, for a progress display.</summary>
/// <param name="File">The file's path in the repo.</param>
/// <param name="Event">What happened.</param>
/// <param name="BytesDone">Bytes on disk so far (the whole size once completed or cached).</param>
/// <param name="BytesTotal">The file's size, when the Hub said.</param>
public readonly record struct HubFileProgress(string File, HubFileEvent Event, long BytesDone, long? BytesTotal);
