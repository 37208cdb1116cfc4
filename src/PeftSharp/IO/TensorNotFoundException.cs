namespace PeftSharp.IO;

/// <summary>A tensor source was asked for a key it does not hold; the message lists keys it does hold.</summary>
public class TensorNotFoundException : PeftSharpException
{
    /// <summary>The file or checkpoint that was searched.</summary>
    public string SourceName { get; }
    /// <summary>The tensor name that was asked for.</summary>
    public string Key { get; }

    /// <summary>
    /// Builds the message: the missing key and up to five keys the source does hold, those ending like the asked-for
    /// key first.
    /// </summary>
    /// <param name="source">The file or checkpoint searched.</param>
    /// <param name="key">The missing tensor name.</param>
    /// <param name="available">The keys the source holds.</param>
    public TensorNotFoundException(string source, string key, IReadOnlyCollection<string> available)
        : base(BuildMessage(source, key, available))
    {
        SourceName = source;
        Key = key;
    }

    private static string BuildMessage(string source, string key, IReadOnlyCollection<string> available)
    {
        if (available.Count == 0)
            return $"{source}: no tensor named '{key}'; the source holds no tensors";
        // Keys sharing the last name segment ("q_proj.weight") are the likely intended ones: list them first.
        int lastDot = key.LastIndexOf('.');
        string tail = lastDot > 0 ? key[(key.LastIndexOf('.', lastDot - 1) + 1)..] : key;
        var shown = available.Where(k => k.EndsWith(tail, StringComparison.Ordinal))
            .Concat(available.Order(StringComparer.Ordinal))
            .Distinct()
            .Take(5)
            .Select(k => $"'{k}'");
        return $"{source}: no tensor named '{key}'; it holds {available.Count} tensors, e.g. {string.Join(", ", shown)}"
            + (available.Count > 5 ? ", ..." : "");
    }
}
