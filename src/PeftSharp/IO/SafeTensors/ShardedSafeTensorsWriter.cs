using System.Text.Json;
using System.Text.RegularExpressions;
using TorchSharp;

namespace PeftSharp.IO.SafeTensors;

/// <summary>
/// Writes a checkpoint the way Hugging Face save_pretrained does: <c>model.safetensors</c> when everything fits
/// in one shard, otherwise <c>model-00001-of-00003.safetensors</c>... plus <c>model.safetensors.index.json</c>
/// with <c>metadata.total_size</c> and a sorted <c>weight_map</c>. Tensors fill shards greedily in the given order;
/// a tensor larger than the limit gets a shard of its own. Each file appears atomically and the index last;
/// leftovers of an earlier save with the same prefix (other shard counts, a stale index) are then removed so
/// the folder never mixes two checkpoints.
/// </summary>
public static partial class ShardedSafeTensorsWriter
{
    /// <summary>Writes <paramref name="tensors"/> into <paramref name="folder"/>; returns the file names written.</summary>
    /// <param name="folder">The output folder; created when missing.</param>
    /// <param name="tensors">Name and CPU tensor pairs, in the order shards are filled; names must be unique.</param>
    /// <param name="maxShardBytes">Upper bound of tensor bytes per shard (HF's max_shard_size, e.g. 5 GB).</param>
    /// <param name="metadata">Stored in every shard's __metadata__; "format": "pt" is added when absent, as transformers expects.</param>
    /// <param name="prefix">File name stem: "model" gives model.safetensors / model-00001-of-00002.safetensors and model.safetensors.index.json.</param>
    public static IReadOnlyList<string> Write(string folder, IEnumerable<KeyValuePair<string, torch.Tensor>> tensors,
        long maxShardBytes, IReadOnlyDictionary<string, string>? metadata = null, string prefix = "model")
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxShardBytes);
        ArgumentException.ThrowIfNullOrEmpty(prefix);
        folder = Path.GetFullPath(folder);
        var items = tensors.ToList();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (key, _) in items)
        {
            if (!seen.Add(key))
                throw new PeftSharpException($"{folder}: tensor '{key}' is given twice; names must be unique");
        }

        var shards = Split(items, maxShardBytes, out long totalSize);
        var shardMetadata = new Dictionary<string, string>(metadata ?? new Dictionary<string, string>(), StringComparer.Ordinal);
        shardMetadata.TryAdd("format", "pt");

        string single = $"{prefix}.safetensors";
        string indexName = $"{prefix}.safetensors.index.json";
        var names = shards.Count == 1
            ? [single]
            : shards.Select((_, i) => $"{prefix}-{i + 1:D5}-of-{shards.Count:D5}.safetensors").ToList();
        for (int i = 0; i < shards.Count; i++)
            SafeTensorsWriter.Write(Path.Combine(folder, names[i]), shards[i], shardMetadata);
        if (shards.Count > 1)
            AtomicFile.WriteAllBytes(Path.Combine(folder, indexName), BuildIndex(shards, names, totalSize));

        RemoveStale(folder, prefix, names, shards.Count > 1 ? indexName : null);
        return shards.Count > 1 ? [.. names, indexName] : names;
    }

    private static List<List<KeyValuePair<string, torch.Tensor>>> Split(
        List<KeyValuePair<string, torch.Tensor>> items, long maxShardBytes, out long totalSize)
    {
        var shards = new List<List<KeyValuePair<string, torch.Tensor>>> { new() };
        long current = 0;
        totalSize = 0;
        foreach (var item in items)
        {
            long size = SafeTensorsWriter.ByteLength(item.Value);
            if (current + size > maxShardBytes && shards[^1].Count > 0)
            {
                shards.Add(new());
                current = 0;
            }
            shards[^1].Add(item);
            current += size;
            totalSize += size;
        }
        return shards;
    }

    private static byte[] BuildIndex(List<List<KeyValuePair<string, torch.Tensor>>> shards, List<string> names, long totalSize)
    {
        var weightMap = new SortedDictionary<string, string>(Comparer<string>.Create(SafeTensorsWriter.CompareCodePoints));
        for (int i = 0; i < shards.Count; i++)
            foreach (var (key, _) in shards[i])
                weightMap.Add(key, names[i]);
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartObject();
            json.WriteStartObject("metadata");
            json.WriteNumber("total_size", totalSize);
            json.WriteEndObject();
            json.WriteStartObject("weight_map");
            foreach (var (key, file) in weightMap) json.WriteString(key, file);
            json.WriteEndObject();
            json.WriteEndObject();
        }
        return stream.ToArray();
    }

    private static void RemoveStale(string folder, string prefix, List<string> written, string? index)
    {
        var keep = new HashSet<string>(written, StringComparer.Ordinal);
        var shardPattern = ShardName();
        foreach (string path in Directory.EnumerateFiles(folder))
        {
            string name = Path.GetFileName(path);
            if (keep.Contains(name)) continue;
            bool staleShard = name.StartsWith(prefix + "-", StringComparison.Ordinal)
                && shardPattern.IsMatch(name[prefix.Length..]);
            bool staleSingle = name == $"{prefix}.safetensors";
            bool staleIndex = index is null && name == $"{prefix}.safetensors.index.json";
            if (staleShard || staleSingle || staleIndex)
                File.Delete(path);
        }
    }

    [GeneratedRegex(@"^-\d{5}-of-\d{5}\.safetensors$")]
    private static partial Regex ShardName();
}
