using System.Buffers.Binary;
using System.IO.MemoryMappedFiles;
using TorchSharp;

namespace PeftSharp.IO.SafeTensors;

/// <summary>
/// One .safetensors file, memory-mapped. Opening parses and validates the header only; tensor bytes are read
/// when a tensor is loaded, straight from the mapped pages into the tensor's storage (no managed buffer).
/// Memory and speed: the header is parsed in place from the mapping (no copy of it either); <see cref="Load"/>
/// allocates only the tensor (plus a cast result when a dtype is asked for) and does one memcpy, so the peak is
/// one tensor's size plus the page cache the kernel can drop. <see cref="LoadMapped"/> skips the memcpy and the
/// tensor-sized allocation entirely. Loading keys in <see cref="KeysInFileOrder"/> reads the file sequentially.
/// Thread-safe for concurrent loads; not for Dispose racing a load.
/// </summary>
public sealed unsafe class SafeTensorsFile : IMappedTensorSource
{
    private readonly MemoryMappedFile _map;
    private readonly MemoryMappedViewAccessor _view;
    private readonly SafeTensorsHeader _header;
    private readonly byte* _data; // start of the data section
    private bool _disposed;

    /// <summary>The file this was opened from, as given.</summary>
    public string Path { get; }
    /// <summary>Bytes of the JSON header (after the 8-byte length prefix), padding included.</summary>
    public long HeaderLength { get; }
    /// <summary>Bytes of the data section that follows the header.</summary>
    public long DataLength { get; }

    /// <inheritdoc/>
    public IReadOnlyCollection<string> Keys => _header.Entries.Keys;
    /// <summary>Keys in the order their bytes appear in the file (the fastest order to load them).</summary>
    public IReadOnlyList<string> KeysInFileOrder => _header.KeysInFileOrder;
    /// <inheritdoc/>
    public IReadOnlyDictionary<string, string> Metadata => _header.Metadata;

    private SafeTensorsFile(string path, MemoryMappedFile map, MemoryMappedViewAccessor view, byte* basePtr,
        long headerLength, long fileLength)
    {
        Path = path;
        _map = map;
        _view = view;
        HeaderLength = headerLength;
        DataLength = fileLength - 8 - headerLength;
        _header = SafeTensorsHeader.Parse(new ReadOnlySpan<byte>(basePtr + 8, (int)headerLength), DataLength, path);
        _data = basePtr + 8 + headerLength;
    }

    /// <summary>Opens and validates <paramref name="path"/>; throws <see cref="InvalidFileFormatException"/> if malformed.</summary>
    public static SafeTensorsFile Open(string path)
    {
        path = System.IO.Path.GetFullPath(path);
        // FileShare.Delete lets a writer replace the file by rename while we still read the old one.
        var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete);
        MemoryMappedFile? map = null;
        MemoryMappedViewAccessor? view = null;
        bool acquired = false;
        try
        {
            long length = stream.Length;
            long headerLength = ReadHeaderLength(stream, length, path);
            map = MemoryMappedFile.CreateFromFile(stream, null, 0, MemoryMappedFileAccess.Read,
                HandleInheritability.None, leaveOpen: false);
            view = map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
            byte* basePtr = null;
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref basePtr);
            acquired = true;
            return new SafeTensorsFile(path, map, view, basePtr + view.PointerOffset, headerLength, length);
        }
        catch
        {
            if (acquired) view!.SafeMemoryMappedViewHandle.ReleasePointer();
            view?.Dispose();
            map?.Dispose();
            stream.Dispose();
            throw;
        }
    }

    private static long ReadHeaderLength(FileStream stream, long length, string path)
    {
        if (length == 0)
            throw SafeTensorsHeader.Fail(path, "the file is empty (0 bytes); re-download or re-export it");
        if (length < 8)
            throw SafeTensorsHeader.Fail(path, $"the file is truncated: {length} bytes, shorter than the 8-byte header "
                + "length prefix every safetensors file starts with");
        Span<byte> prefix = stackalloc byte[8];
        stream.ReadExactly(prefix);
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
        if (headerLength > SafeTensorsHeader.MaxHeaderBytes)
            throw SafeTensorsHeader.Fail(path, $"header length {headerLength} bytes exceeds the "
                + $"{SafeTensorsHeader.MaxHeaderBytes / 1_000_000} MB limit; this is not a safetensors file or its first 8 bytes are corrupt");
        if ((long)headerLength > length - 8)
            throw SafeTensorsHeader.Fail(path, $"header length {headerLength} bytes runs past the end of the file "
                + $"({length} bytes); the file is truncated, re-download or re-export it");
        return (long)headerLength;
    }

    /// <inheritdoc/>
    public bool Contains(string key) => _header.Entries.ContainsKey(key);

    /// <summary>Where a tensor's bytes start, relative to the data section (which begins at 8 + HeaderLength).</summary>
    public long DataOffset(string key) => Find(key).Begin;

    /// <inheritdoc/>
    /// <exception cref="TensorNotFoundException">No such key.</exception>
    /// <exception cref="ObjectDisposedException">The file was disposed.</exception>
    public TensorInfo GetInfo(string key) => Find(key).Info;

    /// <summary>Copies the tensor out of the mapped file into a new CPU tensor (cast when <paramref name="dtype"/> differs).</summary>
    public torch.Tensor Load(string key, torch.ScalarType? dtype = null)
    {
        var entry = Find(key);
        var stored = entry.Info.DType.ToScalarType();
        using var scope = torch.NewDisposeScope();
        var tensor = torch.empty(entry.Shape, stored);
        long bytes = entry.End - entry.Begin;
        if (bytes > 0)
        {
            byte* target = (byte*)TorchNative.THSTensor_data(tensor.Handle);
            Buffer.MemoryCopy(_data + entry.Begin, target, bytes, bytes);
        }
        if (dtype is { } wanted && wanted != stored)
            tensor = tensor.to_type(wanted);
        return tensor.MoveToOuterDisposeScope();
    }

    /// <summary>True when the tensor's bytes are aligned to its element size, so <see cref="LoadMapped"/> can skip the copy.</summary>
    public bool IsAligned(string key)
    {
        var entry = Find(key);
        // Views start on a page boundary, so file-offset alignment is memory alignment.
        return (8 + HeaderLength + entry.Begin) % entry.Info.DType.ElementSize() == 0;
    }

    /// <summary>
    /// A CPU tensor whose storage IS the mapped file (no copy, pages read on first touch) when the data is
    /// aligned (<see cref="IsAligned"/>) and non-empty; otherwise a copy, as <see cref="Load"/>. The mapping
    /// (one copy-on-write view per call) stays alive until the tensor and all its views are disposed, even if
    /// this file is disposed first. Writes to the tensor go to its private pages, never to the file or to other
    /// loads. Replacing or truncating the file on disk in place (instead of by rename) while tensors are mapped
    /// is undefined, as for any mmap.
    /// </summary>
    public torch.Tensor LoadMapped(string key)
    {
        var entry = Find(key);
        if (entry.End == entry.Begin || !IsAligned(key))
            return Load(key);
        torch.empty(0).Dispose(); // make sure TorchSharp has loaded the native library before our P/Invoke
        return MappedTensors.Create(_map, 8 + HeaderLength + entry.Begin, entry.End - entry.Begin, entry.Shape,
            entry.Info.DType.ToScalarType());
    }

    private TensorEntry Find(string key)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return _header.Entries.TryGetValue(key, out var entry)
            ? entry
            : throw new TensorNotFoundException(Path, key, _header.Entries.Keys);
    }

    /// <summary>
    /// Unmaps the file. Tensors from <see cref="LoadMapped"/> keep their own views and stay valid; tensors from
    /// <see cref="Load"/> are copies anyway.
    /// </summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        // Mapped tensors own their own views: they stay valid after this.
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _view.Dispose();
        _map.Dispose();
    }
}
