namespace PeftSharp.IO.Gguf;

/// <summary>One metadata value: its type, and for arrays the element type; the value is a CLR scalar, string or array.</summary>
/// <param name="Type">The value's GGUF type.</param>
/// <param name="Value">A uint/int/float/bool/ulong/long/double, a string, or for arrays a CLR array of the element type.</param>
/// <param name="ElementType">The element type of an array; null otherwise.</param>
public sealed record GgufValue(GgufValueType Type, object Value, GgufValueType? ElementType = null);

/// <summary>
/// The key/value section of a GGUF file, in insertion order (llama.cpp reads keys by name; order only matters to
/// people reading dumps). Each setter names the GGUF type explicitly, since llama.cpp checks types strictly (e.g.
/// context_length must be UINT32).
/// </summary>
public sealed class GgufMetadata
{
    readonly List<KeyValuePair<string, GgufValue>> entries = [];
    readonly Dictionary<string, int> index = new(StringComparer.Ordinal);

    /// <summary>The entries in the order they were set.</summary>
    public IReadOnlyList<KeyValuePair<string, GgufValue>> Entries => entries;

    /// <summary>True when <paramref name="key"/> has a value.</summary>
    public bool Contains(string key) => index.ContainsKey(key);

    /// <summary>The value of <paramref name="key"/>.</summary>
    /// <exception cref="KeyNotFoundException">Not set.</exception>
    public GgufValue this[string key] => entries[index[key]].Value;

    /// <summary>Sets (or replaces) a value.</summary>
    public GgufMetadata Set(string key, GgufValue value)
    {
        if (index.TryGetValue(key, out int i)) entries[i] = KeyValuePair.Create(key, value);
        else
        {
            index[key] = entries.Count;
            entries.Add(KeyValuePair.Create(key, value));
        }
        return this;
    }

    /// <summary>A UTF-8 string value.</summary>
    public GgufMetadata String(string key, string value) => Set(key, new GgufValue(GgufValueType.String, value));
    /// <summary>A UINT32 value.</summary>
    public GgufMetadata UInt32(string key, uint value) => Set(key, new GgufValue(GgufValueType.UInt32, value));
    /// <summary>An INT32 value.</summary>
    public GgufMetadata Int32(string key, int value) => Set(key, new GgufValue(GgufValueType.Int32, value));
    /// <summary>A FLOAT32 value.</summary>
    public GgufMetadata Float32(string key, float value) => Set(key, new GgufValue(GgufValueType.Float32, value));
    /// <summary>A BOOL value.</summary>
    public GgufMetadata Bool(string key, bool value) => Set(key, new GgufValue(GgufValueType.Bool, value));
    /// <summary>An array of strings.</summary>
    public GgufMetadata Strings(string key, string[] values) => Set(key, new GgufValue(GgufValueType.Array, values, GgufValueType.String));
    /// <summary>An array of FLOAT32.</summary>
    public GgufMetadata Float32s(string key, float[] values) => Set(key, new GgufValue(GgufValueType.Array, values, GgufValueType.Float32));
    /// <summary>An array of INT32.</summary>
    public GgufMetadata Int32s(string key, int[] values) => Set(key, new GgufValue(GgufValueType.Array, values, GgufValueType.Int32));
}
