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
/// (`org/name`, optionally `/folder` inside the repo and `@revision`), taken from the standard Hugging Face cache
/// when it is there and downloaded into it (<see cref="HubDownload"/>) when it is not, unless offline.
/// </summary>
public static class ModelLocator
{
    /// <summary>The hub cache folder: $HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub.</summary>
    public static string HubCacheDir() => HubOptions.CacheDirFromEnvironment();

    /// <summary>
    /// Where <paramref name="argument"/> points, with the Hub settings of the environment (<see cref="HubOptions.FromEnvironment"/>).
    /// </summary>
    public static ModelLocation Resolve(string argument) => Resolve(argument, null);

    /// <summary>
    /// Where <paramref name="argument"/> points. A repo id missing from <paramref name="hub"/>'s cache (or cached
    /// only in part) is downloaded. PyTorch pickle checkpoints (.bin that is not llama2.c, .pt, .pth, .ckpt) are
    /// refused with <see cref="PeftSharpException"/> before they are parsed; so are missing paths.
    /// </summary>
    /// <param name="argument">A folder, a model file, or <c>org/name[/folder][@revision]</c>.</param>
    /// <param name="hub">Where the cache is and how to reach the Hub; null reads them from the environment.</param>
    public static ModelLocation Resolve(string argument, HubOptions? hub)
    {
        if (string.IsNullOrWhiteSpace(argument)) throw new ConfigurationException("no model given: pass --model <folder | file | org/name>");
        if (Directory.Exists(argument)) return FromFolder(argument, argument);
        if (File.Exists(argument)) return FromFile(argument);
        if (HubRepoId.TryParse(argument, out var id))
        {
            hub ??= HubOptions.FromEnvironment();
            var cached = new HubCache(hub.CacheDir, id).FindFolder(id, out var lookedAt);
            // Offline, a partial folder still goes to FromFolder, whose error says what is missing.
            if (cached is not null && (hub.Offline || HubCache.LooksComplete(cached))) return FromFolder(cached, argument);
            if (hub.Offline) throw HubDownload.OfflineMiss(id, lookedAt);
            try
            {
                return FromFolder(HubDownload.Model(id, hub), argument);
            }
            catch (HubException e)
            {
                throw new HubException($"model '{argument}' is not a local path and is not in the Hugging Face cache (looked for {lookedAt}); {e.Message}", e);
            }
        }
        throw new PeftSharpException($"model '{argument}' not found: pass an existing folder, a model file, or a Hugging Face repo id such as org/name");
    }

    /// <summary>True when <paramref name="argument"/> is a repo id whose model the cache at <paramref name="cacheDir"/> holds in full.</summary>
    public static bool IsInHubCache(string argument, string cacheDir) =>
        HubRepoId.TryParse(argument, out var id) && new HubCache(cacheDir, id).FindFolder(id, out _) is { } folder && HubCache.LooksComplete(folder);

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
}
