using System.Text.RegularExpressions;

namespace PeftSharp.IO.HuggingFace;

/// <summary>
/// A model on the Hub as users write it: <c>org/name</c>, optionally a folder inside the repo
/// (<c>karpathy/tinyllamas/stories260K</c>) and a revision (<c>@main</c>, <c>@v1.0</c>, <c>@&lt;40-hex commit&gt;</c>).
/// </summary>
/// <param name="Repo">The repo, <c>org/name</c>.</param>
/// <param name="Subfolder">The folder inside the repo that holds the model, or null for the repo's root.</param>
/// <param name="Revision">A branch, tag or commit sha; <c>main</c> when none was given.</param>
public sealed partial record HubRepoId(string Repo, string? Subfolder, string Revision)
{
    // Names as the Hub allows them; ".." and "--" (the cache's separator) are refused so no id can escape or alias a folder.
    [GeneratedRegex(@"^[A-Za-z0-9][\w.\-]*$")]
    private static partial Regex NamePattern();

    [GeneratedRegex(@"^[\w.\-]+(/[\w.\-]+)*$")]
    private static partial Regex RevisionPattern();

    [GeneratedRegex("^[0-9a-f]{40}$")]
    private static partial Regex CommitPattern();

    /// <summary>True when <paramref name="revision"/> is a full commit sha (40 lowercase hex digits).</summary>
    public static bool IsCommit(string revision) => CommitPattern().IsMatch(revision);

    /// <summary>True when <see cref="Revision"/> is a full commit sha rather than a branch or tag.</summary>
    public bool RevisionIsCommit => IsCommit(Revision);

    /// <summary>Reads <c>org/name[/folder...][@revision]</c>; false for anything else (a path, a bare name).</summary>
    public static bool TryParse(string text, out HubRepoId id)
    {
        id = null!;
        var at = text.IndexOf('@', StringComparison.Ordinal);
        var path = at < 0 ? text : text[..at];
        var revision = at < 0 ? "main" : text[(at + 1)..];
        var parts = path.Split('/');
        if (parts.Length < 2 || !parts.All(p => NamePattern().IsMatch(p) && !p.Contains("..", StringComparison.Ordinal))) return false;
        if (parts[0].Contains("--", StringComparison.Ordinal) || parts[1].Contains("--", StringComparison.Ordinal)) return false;
        if (!RevisionPattern().IsMatch(revision) || revision.Split('/').Any(s => s is "." or "..")) return false;
        id = new HubRepoId(parts[0] + "/" + parts[1], parts.Length > 2 ? string.Join('/', parts[2..]) : null, revision);
        return true;
    }

    /// <summary>The cache folder name huggingface_hub uses for this repo: <c>models--org--name</c>.</summary>
    public string CacheFolderName => "models--" + Repo.Replace("/", "--", StringComparison.Ordinal);

    /// <summary>The id as users write it: <c>org/name[/folder]@revision</c>.</summary>
    public override string ToString() => Repo + (Subfolder is null ? "" : "/" + Subfolder) + "@" + Revision;
}
