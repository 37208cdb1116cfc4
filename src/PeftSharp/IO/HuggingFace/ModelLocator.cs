using System.Text.RegularExpressions;

namespace PeftSharp.IO.HuggingFace;

/// <summary>The kind of model a <see cref="ModelLocation"/> points at.</summary>
public enum ModelFormat
{
    /// <summary>A Hugging Face model folder: config.json plus safetensors weights (and tokenizer files).</summary>
    HuggingFaceFolder,
    /// <summary>A Karpathy llama2.c <c>.bin</c> checkpoint (28-byte header then fp32 weights).</summary>
    LlamaC,
}

/// <summary>Where a model argument points: an HF-style folder, or a llama2.c checkpoint file.</summary>
public sealed record ModelLocation(ModelFormat Format, string Path, string Argument)
{
    /// <summary>The folder holding the model's files (the folder itself, or the checkpoint's folder).</summary>
    public string Folder => Format == ModelFormat.HuggingFaceFolder ? Path : System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(Path))!;
}

/// <summary>
/// Resolves a model argument the way users give it: a local folder, a single file, or a Hugging Face repo id
/// (`org/name`, optionally `@revision`) already present in the standard Hugging Face cache.
/// </summary>
public static partial class ModelLocator
{
    [GeneratedRegex(@"^[A-Za-z0-9][\w.\-]*(/[A-Za-z0-9][\w.\-]*)?(@[\w.\-/]+)?$")]
    private static partial Regex RepoIdPattern();

    [GeneratedRegex("^[0-9a-f]{40}$")]
    private static partial Regex CommitPattern();

    /// <summary>The hub cache folder: $HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub.</summary>
    public static string HubCacheDir()
    {
        if (Environment.GetEnvironmentVariable("HF_HUB_CACHE") is { Length: > 0 } hub) return hub;
        if (Environment.GetEnvironmentVariable("HF_HOME") is { Length: > 0 } home) return System.IO.Path.Combine(home, "hub");
        var xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } x
            ? x
            : System.IO.Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
        return System.IO.Path.Combine(xdg, "huggingface", "hub");
    }

    /// <summary>
    /// Where <paramref name="argument"/> points. PyTorch pickle checkpoints (.bin that is not llama2.c, .pt, .pth, .ckpt)
    /// are refused with <see cref="PeftSharpException"/> before they are parsed; so are missing paths.
    /// </summary>
    public static ModelLocation Resolve(string argument)
    {
        if (string.IsNullOrWhiteSpace(argument)) throw new ConfigurationException("no model given: pass --model <folder | file | org/name>");
        if (Directory.Exists(argument)) return FromFolder(argument, argument);
        if (File.Exists(argument)) return FromFile(argument);
        if (RepoIdPattern().IsMatch(argument) && argument.Contains('/'))
        {
            var snapshot = FindInHubCache(argument, out var lookedAt);
            if (snapshot is not null) return FromFolder(snapshot, argument);
            throw new PeftSharpException(
                $"model '{argument}' is not a local path and is not in the Hugging Face cache (looked for {lookedAt}). " +
                "Download it first (e.g. `huggingface-cli download " + argument.Split('@')[0] + "`), set HF_HOME / HF_HUB_CACHE to the cache that has it, or pass a local folder");
        }
        throw new PeftSharpException($"model '{argument}' not found: pass an existing folder, a model file, or a Hugging Face repo id such as org/name");
    }

    static ModelLocation FromFile(string file)
    {
        var ext = System.IO.Path.GetExtension(file).ToLowerInvariant();
        return ext switch
        {
            ".bin" when IsLlamaC(file) => new ModelLocation(ModelFormat.LlamaC, file, file),
            ".safetensors" or ".json" => FromFolder(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(file))!, file),
            _ when PickleCheckpoints.HasPickleExtension(file) => throw PickleCheckpoints.Refusal(file),
            _ => throw new PeftSharpException($"{file}: unknown model file type '{ext}'; expected a model folder, a .safetensors file or a llama2.c .bin checkpoint"),
        };
    }

    /// <summary>llama2.c files start with seven small positive int32s; pickles start with a zip or pickle magic.</summary>
    static bool IsLlamaC(string file)
    {
        Span<byte> head = stackalloc byte[28];
        using var fs = File.OpenRead(file);
        if (fs.Read(head) < 28) return false;
        for (int i = 0; i < 7; i++)
        {
            int v = BitConverter.ToInt32(head[(i * 4)..]);
            if (v == 0 || (v < 0 && i != 5) || Math.Abs((long)v) > 1 << 20) return false;
        }
        return true;
    }

    static ModelLocation FromFolder(string folder, string argument)
    {
        if (File.Exists(System.IO.Path.Combine(folder, "config.json"))) return new ModelLocation(ModelFormat.HuggingFaceFolder, folder, argument);
        var llamaC = Directory.EnumerateFiles(folder, "*.bin").Where(IsLlamaC).ToList();
        if (llamaC.Count == 1) return new ModelLocation(ModelFormat.LlamaC, llamaC[0], argument);
        // Only the 28-byte header of each .bin was read (to tell llama2.c from a pickle); pickles are never parsed.
        if (llamaC.Count == 0 && PickleCheckpoints.In(folder) is [var pickle, ..])
            throw PickleCheckpoints.Refusal(System.IO.Path.Combine(folder, pickle));
        var found = Directory.EnumerateFileSystemEntries(folder).Select(System.IO.Path.GetFileName).Take(12);
        throw new PeftSharpException(
            $"{folder} is not a model folder: it has no config.json{(llamaC.Count > 1 ? $" and {llamaC.Count} llama2.c checkpoints (pass one file)" : "")}. It holds: {string.Join(", ", found)}");
    }

    /// <summary>models--org--name/snapshots/&lt;commit&gt;, with the commit taken from refs/&lt;revision&gt; (default main).</summary>
    public static string? FindInHubCache(string repoIdWithRevision, out string lookedAt)
    {
        var parts = repoIdWithRevision.Split('@', 2);
        string repo = parts[0], revision = parts.Length > 1 ? parts[1] : "main";
        var repoDir = System.IO.Path.Combine(HubCacheDir(), "models--" + repo.Replace("/", "--"));
        lookedAt = repoDir;
        if (!Directory.Exists(repoDir)) return null;
        string commit = revision;
        if (!CommitPattern().IsMatch(revision))
        {
            var refFile = System.IO.Path.Combine(repoDir, "refs", revision);
            lookedAt = refFile;
            if (!File.Exists(refFile)) return null;
            commit = File.ReadAllText(refFile).Trim();
        }
        var snapshot = System.IO.Path.Combine(repoDir, "snapshots", commit);
        lookedAt = snapshot;
        return Directory.Exists(snapshot) ? snapshot : null;
    }
}
