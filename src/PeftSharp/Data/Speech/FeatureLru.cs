namespace PeftSharp.Data.Speech;

/// <summary>
/// Least-recently-used store of computed log-mel features by example index, holding at most a fixed count. It pays
/// when the whole dataset fits (every epoch after the first reads no audio); for larger sets the hit rate under a
/// fresh shuffle per epoch is about capacity / examples, and memory stays at the capacity either way.
/// </summary>
internal sealed class FeatureLru
{
    readonly int capacity;
    readonly Dictionary<int, LinkedListNode<(int Index, float[] Features)>> byIndex = [];
    readonly LinkedList<(int Index, float[] Features)> recency = new();   // most recent first

    public FeatureLru(int capacity) => this.capacity = capacity;

    public int Count => byIndex.Count;

    public float[] GetOrCompute(int index, Func<int, float[]> compute)
    {
        if (byIndex.TryGetValue(index, out var node))
        {
            recency.Remove(node);
            recency.AddFirst(node);
            return node.Value.Features;
        }
        var features = compute(index);
        if (capacity == 0) return features;
        if (byIndex.Count == capacity)
        {
            byIndex.Remove(recency.Last!.Value.Index);
            recency.RemoveLast();
        }
        byIndex[index] = recency.AddFirst((index, features));
        return features;
    }
}
