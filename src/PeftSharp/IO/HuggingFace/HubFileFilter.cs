using System.Text.RegularExpressions;

namespace PeftSharp.IO.HuggingFace;

/// <summary>
/// Which of a repo's files a model needs: its safetensors weights (and their index), config and generation config,
/// tokenizer and preprocessor files. Pickle checkpoints (.bin, .pt, .pth, .ckpt) are left out unless an include
/// pattern names them, except the .bin files of a subfolder without safetensors (llama2.c checkpoints, which the
/// loader tells from pickles by their header). Files in nested folders are left out unless included.
/// </summary>
public static partial class HubFileFilter
{
    /// <summary>The non-weight files a model folder may need, by name.</summary>
    public static readonly IReadOnlySet<string> ModelFiles = new HashSet<string>(StringComparer.Ordinal)
    {
        "config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
        "tokenizer.model", "tokenizer.bin", "vocab.json", "vocab.txt", "merges.txt", "added_tokens.json",
        "preprocessor_config.json", "processor_config.json", "normalizer.json", "chat_template.json", "chat_template.jinja",
    };

    // save_pretrained's names; a repo that has them may also carry other safetensors (e.g. Mistral's consolidated.safetensors).
    [GeneratedRegex(@"^model(-\d+-of-\d+)?\.safetensors$")]
    private static partial Regex TransformersWeights();

    /// <summary>
    /// The paths (relative to the repo root) to download from <paramref name="repoFiles"/> for a model at
    /// <paramref name="subfolder"/> (null: the root), config.json last, so its presence tells a finished download.
    /// </summary>
    /// <param name="repoFiles">Every file of the repo at the commit, as the Hub lists them (<c>siblings[].rfilename</c>).</param>
    /// <param name="subfolder">The folder inside the repo that holds the model.</param>
    /// <param name="include">Globs (<c>*</c> any run of characters, <c>?</c> one) of further files, relative to that folder.</param>
    public static IReadOnlyList<string> Select(IEnumerable<string> repoFiles, string? subfolder, IReadOnlyList<string> include)
    {
        var prefix = subfolder is null ? "" : subfolder.TrimEnd('/') + "/";
        var inScope = repoFiles.Where(IsSafePath).Where(f => f.StartsWith(prefix, StringComparison.Ordinal)).Select(f => f[prefix.Length..]).ToList();
        var top = inScope.Where(f => !f.Contains('/')).ToList();
        var safetensors = top.Where(f => f.EndsWith(".safetensors", StringComparison.Ordinal)).ToList();
        var weights = safetensors.Any(f => TransformersWeights().IsMatch(f))
            ? safetensors.Where(f => TransformersWeights().IsMatch(f)).Append("model.safetensors.index.json")
            : safetensors.Concat(top.Where(f => f.EndsWith(".safetensors.index.json", StringComparison.Ordinal)));
        var llamaC = subfolder is not null && safetensors.Count == 0
            ? top.Where(f => f.EndsWith(".bin", StringComparison.OrdinalIgnoreCase))
            : [];
        var patterns = include.Select(Glob).ToList();
        var chosen = new HashSet<string>(weights.Concat(llamaC), StringComparer.Ordinal);
        chosen.UnionWith(top.Where(f => ModelFiles.Contains(f) || f.EndsWith(".tiktoken", StringComparison.Ordinal)));
        chosen.UnionWith(inScope.Where(f => patterns.Any(p => p.IsMatch(f))));
        return inScope.Where(chosen.Contains)
            .OrderBy(f => f == "config.json" ? 1 : 0).ThenBy(f => f, StringComparer.Ordinal)
            .Select(f => prefix + f).ToList();
    }

    /// <summary>
    /// A relative path with plain segments: no "..", ".", empty segment, backslash or leading slash, so a listing
    /// from a hostile server cannot place a file outside the snapshot folder.
    /// </summary>
    public static bool IsSafePath(string path) =>
        path.Length > 0 && !path.Contains('\\') && path.Split('/').All(s => s.Length > 0 && s is not ("." or ".."));

    /// <summary>A glob as fnmatch reads it: <c>*</c> matches any run of characters (slashes too), <c>?</c> one.</summary>
    static Regex Glob(string pattern) =>
        new("^" + Regex.Escape(pattern).Replace(@"\*", ".*", StringComparison.Ordinal).Replace(@"\?", ".", StringComparison.Ordinal) + "$",
            RegexOptions.CultureInvariant);
}
