using System.IO.MemoryMappedFiles;
using System.Runtime.InteropServices;

namespace PeftSharp.Data;

/// <summary>
/// Tokenized examples kept in a temporary file instead of the heap, so a dataset larger than memory still trains:
/// only an offset and a length per example stay in memory, the ids and labels are read back (memory-mapped, from the
/// page cache) when a batch needs them. The file is deleted when the store is disposed or the process ends.
/// </summary>
public sealed class DiskTokenStore : IReadOnlyList<TokenizedExample>, IDisposable
{
    readonly string path;
    readonly FileStream writer;
    readonly List<(long Offset, int Length)> index = new();
    MemoryMappedFile? map;
    MemoryMappedViewAccessor? view;
    long written;

    /// <summary>Creates the backing file, peftsharp-tokens-PID-GUID.bin, opened delete-on-close.</summary>
    /// <param name="folder">Where to put it; null: the system temp folder. Created when missing.</param>
    public DiskTokenStore(string? folder = null)
    {
        folder ??= Path.GetTempPath();
        Directory.CreateDirectory(folder);
        path = Path.Combine(folder, $"peftsharp-tokens-{Environment.ProcessId}-{Guid.NewGuid():N}.bin");
        writer = new FileStream(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.Read, 1 << 20, FileOptions.DeleteOnClose);
    }

    /// <summary>Appends an example's ids then labels (int32 each, 8 bytes per token) to the file.</summary>
    /// <exception cref="InvalidOperationException">The store is already sealed (reading has started).</exception>
    public void Add(TokenizedExample example)
    {
        if (map is not null) throw new InvalidOperationException("the token store is sealed: add every example before reading");
        writer.Write(MemoryMarshal.AsBytes(example.InputIds.AsSpan()));
        writer.Write(MemoryMarshal.AsBytes(example.Labels.AsSpan()));
        index.Add((written, example.Length));
        written += 8L * example.Length;
    }

    /// <summary>Ends writing; reads come from a memory map of the file from now on.</summary>
    public void Seal()
    {
        if (map is not null) return;
        writer.Flush();
        if (written == 0) return;
        map = MemoryMappedFile.CreateFromFile(writer, null, written, MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: true);
        view = map.CreateViewAccessor(0, written, MemoryMappedFileAccess.Read);
    }

    /// <summary>Number of examples added.</summary>
    public int Count => index.Count;

    /// <summary>The length of example <paramref name="i"/> without reading its tokens.</summary>
    public int LengthOf(int i) => index[i].Length;

    /// <summary>
    /// Reads example <paramref name="i"/> back from the memory map (sealing the store on the first read); each call
    /// returns new arrays.
    /// </summary>
    public TokenizedExample this[int i]
    {
        get
        {
            Seal();
            var (offset, length) = index[i];
            var ids = new int[length];
            var labels = new int[length];
            view!.ReadArray(offset, ids, 0, length);
            view.ReadArray(offset + 4L * length, labels, 0, length);
            return new TokenizedExample(ids, labels);
        }
    }

    /// <summary>Reads the examples in order, one at a time.</summary>
    public IEnumerator<TokenizedExample> GetEnumerator()
    {
        for (int i = 0; i < Count; i++) yield return this[i];
    }

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>Closes the map and the file, which deletes it.</summary>
    public void Dispose()
    {
        view?.Dispose();
        map?.Dispose();
        writer.Dispose(); // DeleteOnClose removes the file
    }
}

/// <summary>A subset of a list by index, without copying the items (train/eval halves of a disk-backed dataset).</summary>
internal sealed class IndexedView<T>(IReadOnlyList<T> source, int[] indices) : IReadOnlyList<T>
{
    /// <inheritdoc/>
    public int Count => indices.Length;
    /// <inheritdoc/>
    public T this[int i] => source[indices[i]];
    /// <inheritdoc/>
    public IEnumerator<T> GetEnumerator() => indices.Select(i => source[i]).GetEnumerator();
    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
}

/// <summary>Several lists read as one, without copying (datasets from several files).</summary>
public sealed class ConcatenatedList<T>(IReadOnlyList<IReadOnlyList<T>> parts) : IReadOnlyList<T>
{
    /// <summary>The sum of the parts' counts (computed on each call).</summary>
    public int Count => parts.Sum(p => p.Count);

    /// <summary>Item <paramref name="i"/> of the concatenation: the parts are walked in order.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="i"/> is at or past <see cref="Count"/>.</exception>
    public T this[int i]
    {
        get
        {
            foreach (var p in parts)
            {
                if (i < p.Count) return p[i];
                i -= p.Count;
            }
            throw new ArgumentOutOfRangeException(nameof(i));
        }
    }

    /// <summary>The items of every part, part after part.</summary>
    public IEnumerator<T> GetEnumerator() => parts.SelectMany(p => p).GetEnumerator();
    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
}
