using System.Text.Json;
using TorchSharp;

namespace PeftSharp.IO.SafeTensors;

/// <summary>
/// A checkpoint split over several safetensors files, described by a Hugging Face index
/// (<c>{"metadata": {...}, "weight_map": {key: shard file}}</c>). Shards are opened lazily, once each; when a
/// shard is opened, every key the index assigns to it is checked to really be there.
/// </summary>
public sealed class ShardedSafeTensors : IMappedTensorSource
{
    /// <summary>
    /// The index file name save_pretrained writes for a sharded checkpoint, "model.safetensors.index.json".
    /// </summary>
    public const string IndexFileName = "model.safetensors.index.json";
    private const long MaxIndexBytes = 100_000_000;

    private readonly Dictionary<string, string> _weightMap;
    private readonly Dictionary<string, List<string>> _keysByShard;
    private readonly Dictionary<string, SafeTensorsFile> _open = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _metadata;
    private readonly Lock _gate = new();
    private bool _disposed;

    /// <summary>The index file this was opened from.</summary>
    public string IndexPath { get; }
    /// <summary>The folder of the index; shard file names are relative to it.</summary>
    public string Folder { get; }
    /// <summary>The distinct shard file names the index's weight_map refers to.</summary>
    public IReadOnlyCollection<string> ShardFiles => _keysByShard.Keys;
    /// <inheritdoc/>
    public IReadOnlyCollection<string> Keys => _weightMap.Keys;
    /// <summary>The index's "metadata"; non-string values (total_size) as their JSON text.</summary>
    public IReadOnlyDictionary<string, string> Metadata => _metadata;

    private ShardedSafeTensors(string indexPath, Dictionary<string, string> weightMap, Dictionary<string, string> metadata)
    {
        IndexPath = indexPath;
        Folder = Path.GetDirectoryName(indexPath)!;
        _weightMap = weightMap;
        _metadata = metadata;
        _keysByShard = weightMap.GroupBy(p => p.Value, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.Select(p => p.Key).ToList(), StringComparer.Ordinal);
        foreach (var (shard, keys) in _keysByShard)
        {
            if (!File.Exists(Path.Combine(Folder, shard)))
                throw new InvalidFileFormatException(indexPath, $"shard '{shard}' (holding '{keys[0]}' and "
                    + $"{keys.Count - 1} more tensors) is missing from {Folder}; download or copy the complete checkpoint");
        }
    }

    /// <summary>
    /// Reads and checks the index; shard files must exist but are not opened yet. Throws
    /// <see cref="InvalidFileFormatException"/> for a malformed index or a missing shard.
    /// </summary>
    public static ShardedSafeTensors Open(string indexPath)
    {
        indexPath = Path.GetFullPath(indexPath);
        byte[] bytes;
        using (var stream = File.OpenRead(indexPath)) // follows a symlink (Hub cache snapshots), which FileInfo.Length would not
        {
            if (stream.Length > MaxIndexBytes)
                throw new InvalidFileFormatException(indexPath, $"index is {stream.Length} bytes, over the {MaxIndexBytes / 1_000_000} MB limit; this is not a safetensors index");
            bytes = new byte[stream.Length];
            stream.ReadExactly(bytes);
        }
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(bytes, new JsonDocumentOptions { AllowDuplicateProperties = false });
        }
        catch (JsonException e)
        {
            throw new InvalidFileFormatException(indexPath, $"index is not valid JSON: {e.Message}", e);
        }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw new InvalidFileFormatException(indexPath, $"index must be a JSON object, but it is a JSON {root.ValueKind}");
            if (!root.TryGetProperty("weight_map", out var map) || map.ValueKind != JsonValueKind.Object)
                throw new InvalidFileFormatException(indexPath, "index has no \"weight_map\" object mapping tensor names to shard files");
            var weightMap = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var entry in map.EnumerateObject())
            {
                if (entry.Value.ValueKind != JsonValueKind.String)
                    throw new InvalidFileFormatException(indexPath, $"weight_map entry '{entry.Name}' is a JSON {entry.Value.ValueKind}; expected a shard file name");
                string shard = entry.Value.GetString()!;
                // Shards live beside the index; anything else (paths, "..") is refused rather than followed.
                if (shard.Length == 0 || shard is "." or ".." || Path.GetFileName(shard) != shard || shard.Contains('\\'))
                    throw new InvalidFileFormatException(indexPath, $"weight_map entry '{entry.Name}' names '{shard}', which is not a file name in the index's folder");
                weightMap.Add(entry.Name, shard);
            }
            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            if (root.TryGetProperty("metadata", out var meta) && meta.ValueKind == JsonValueKind.Object)
            {
                foreach (var p in meta.EnumerateObject())
                    metadata[p.Name] = p.Value.ValueKind == JsonValueKind.String ? p.Value.GetString()! : p.Value.GetRawText();
            }
            return new ShardedSafeTensors(indexPath, weightMap, metadata);
        }
    }

    /// <inheritdoc/>
    public bool Contains(string key) => _weightMap.ContainsKey(key);

    /// <inheritdoc/>
    public TensorInfo GetInfo(string key) => ShardOf(key).GetInfo(key);

    /// <inheritdoc/>
    public torch.Tensor Load(string key, torch.ScalarType? dtype = null) => ShardOf(key).Load(key, dtype);

    /// <summary>Zero-copy where possible; see <see cref="SafeTensorsFile.LoadMapped"/>.</summary>
    public torch.Tensor LoadMapped(string key) => ShardOf(key).LoadMapped(key);

    /// <summary>Opens every shard now and checks every key, instead of on first use.</summary>
    public void Validate()
    {
        foreach (var keys in _keysByShard.Values)
            ShardOf(keys[0]);
    }

    private SafeTensorsFile ShardOf(string key)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!_weightMap.TryGetValue(key, out var shard))
            throw new TensorNotFoundException(IndexPath, key, _weightMap.Keys);
        lock (_gate)
        {
            if (_open.TryGetValue(shard, out var file))
                return file;
            file = SafeTensorsFile.Open(Path.Combine(Folder, shard));
            foreach (var expected in _keysByShard[shard])
            {
                if (!file.Contains(expected))
                {
                    file.Dispose();
                    throw new InvalidFileFormatException(IndexPath, $"weight_map puts tensor '{expected}' in shard "
                        + $"'{shard}', but that shard does not hold it; the index and shards are from different "
                        + "checkpoints or a shard is incomplete");
                }
            }
            _open.Add(shard, file);
            return file;
        }
    }

    /// <summary>
    /// Closes every shard opened so far; mapped tensors stay valid (see <see cref="SafeTensorsFile.LoadMapped"/>).
    /// </summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
            foreach (var file in _open.Values) file.Dispose();
            _open.Clear();
        }
    }
}
