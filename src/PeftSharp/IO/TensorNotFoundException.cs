namespace PeftSharp.IO;

/// <summary>A tensor source was asked for a key it does not hold; the message lists keys it does hold.</summary>
public class TensorNotFoundException : PeftSharpException
{
    public string SourceName { get; }
    public string Key { get; }

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
