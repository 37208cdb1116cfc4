namespace PeftSharp.Tokenization.Bpe;

/// <summary>What merging two adjacent symbols yields: the merged id and its priority (lower merges first).</summary>
internal delegate bool TryMergePair(int left, int right, out double priority, out int merged);

/// <summary>
/// Greedy BPE: repeatedly merges the adjacent pair with the lowest priority, leftmost first among ties.
/// A heap with lazy invalidation keeps long words at O(n log n) instead of rescanning all pairs per merge.
/// This is the shared core of HF BPE (priority = merge rank), sentencepiece and llama2.c (priority = -score)
/// and tiktoken (priority = rank of the merged bytes).
/// </summary>
internal static class PairMerger
{
    public static List<int> Merge(IReadOnlyList<int> symbols, TryMergePair tryMerge)
    {
        int n = symbols.Count;
        var ids = new int[n];
        var prev = new int[n];
        var next = new int[n];
        var alive = new bool[n];
        for (int i = 0; i < n; i++)
        {
            ids[i] = symbols[i];
            prev[i] = i - 1;
            next[i] = i + 1 < n ? i + 1 : -1;
            alive[i] = true;
        }

        // Entries carry the ids they were computed for, so a stale entry is recognised and skipped.
        var heap = new PriorityQueue<(int Left, int LeftId, int RightId, int Merged), (double, int)>();
        void Push(int left)
        {
            if (left < 0) return;
            int right = next[left];
            if (right < 0) return;
            if (tryMerge(ids[left], ids[right], out double priority, out int merged))
                heap.Enqueue((left, ids[left], ids[right], merged), (priority, left));
        }

        for (int i = 0; i + 1 < n; i++) Push(i);
        while (heap.TryDequeue(out var top, out _))
        {
            int left = top.Left;
            if (!alive[left] || ids[left] != top.LeftId) continue;
            int right = next[left];
            if (right < 0 || ids[right] != top.RightId) continue;

            ids[left] = top.Merged;
            alive[right] = false;
            next[left] = next[right];
            if (next[right] >= 0) prev[next[right]] = left;
            Push(prev[left]);
            Push(left);
        }

        var result = new List<int>(n);
        for (int i = 0; i >= 0 && i < n; i = next[i]) result.Add(ids[i]);
        return result;
    }
}
