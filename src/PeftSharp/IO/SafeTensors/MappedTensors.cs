using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using TorchSharp;

namespace PeftSharp.IO.SafeTensors;

/// <summary>
/// Zero-copy CPU tensors over a memory-mapped file. TorchSharp 0.107 has no public from_blob, but its native
/// THSTensor_new is torch::from_blob with a deleter, and <see cref="torch.Tensor.UnsafeCreateTensor"/> wraps the
/// handle. Each tensor holds one reference on the mapping's SafeHandle (DangerousAddRef), released by the deleter
/// libtorch calls when the tensor's storage dies, so the pages stay mapped as long as any tensor (or view of it)
/// lives, even after the file object is disposed. The mapping is copy-on-write: writing into such a tensor
/// changes private pages only, never the file.
/// </summary>
internal static unsafe class MappedTensors
{
    // libtorch passes only the data pointer to the deleter: count references per pointer. Two live mappings never
    // share an address, so a pointer identifies its mapping while any tensor over it is alive.
    private static readonly Dictionary<IntPtr, (SafeHandle Mapping, int Count)> Live = new();
    private static readonly Lock Gate = new();

    public static int LiveCount { get { lock (Gate) return Live.Count; } }

    public static torch.Tensor Create(SafeHandle mapping, byte* data, long[] shape, torch.ScalarType type)
    {
        bool added = false;
        mapping.DangerousAddRef(ref added);
        var key = (IntPtr)data;
        lock (Gate)
            Live[key] = Live.TryGetValue(key, out var entry) ? (entry.Mapping, entry.Count + 1) : (mapping, 1);
        IntPtr handle;
        fixed (long* dims = shape)
        {
            handle = TorchNative.THSTensor_new(key, &Release, dims, shape.Length, (sbyte)type, (sbyte)type,
                deviceType: 0, deviceIndex: 0, requiresGrad: false);
        }
        if (handle == IntPtr.Zero)
        {
            ReleaseCore(key); // from_blob failed before taking ownership of the deleter
            throw new PeftSharpException($"libtorch could not wrap mapped memory as a tensor: {TorchNative.LastError()}");
        }
        return torch.Tensor.UnsafeCreateTensor(handle);
    }

    // Runs on whichever thread frees the storage (a finalizer, a dispose scope); must never throw.
    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void Release(IntPtr data) => ReleaseCore(data);

    private static void ReleaseCore(IntPtr data)
    {
        SafeHandle? mapping = null;
        lock (Gate)
        {
            if (Live.TryGetValue(data, out var entry))
            {
                mapping = entry.Mapping;
                if (entry.Count == 1) Live.Remove(data);
                else Live[data] = (entry.Mapping, entry.Count - 1);
            }
        }
        mapping?.DangerousRelease();
    }
}
