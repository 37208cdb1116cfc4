using System.IO.MemoryMappedFiles;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using TorchSharp;

namespace PeftSharp.IO.SafeTensors;

/// <summary>
/// Zero-copy CPU tensors over a memory-mapped file. TorchSharp 0.107 has no public from_blob, but its native
/// THSTensor_new is torch::from_blob with a deleter, and <see cref="torch.Tensor.UnsafeCreateTensor"/> wraps the
/// handle. Each tensor gets its own copy-on-write view of just its bytes, which the deleter unmaps when libtorch
/// frees the storage (last tensor or view disposed). So the pages live exactly as long as the tensor, even after
/// the file object is disposed, and writes into the tensor stay private to it: they reach neither the file nor
/// other loads of the same key.
/// </summary>
internal static unsafe class MappedTensors
{
    // libtorch hands the deleter only the data pointer; every view is a separate mmap, so the pointer is unique.
    private static readonly Dictionary<IntPtr, MemoryMappedViewAccessor> Live = new();
    private static readonly Lock Gate = new();

    public static torch.Tensor Create(MemoryMappedFile map, long fileOffset, long byteLength, long[] shape, torch.ScalarType type)
    {
        var view = map.CreateViewAccessor(fileOffset, byteLength, MemoryMappedFileAccess.CopyOnWrite);
        byte* basePtr = null;
        view.SafeMemoryMappedViewHandle.AcquirePointer(ref basePtr);
        var data = (IntPtr)(basePtr + view.PointerOffset);
        lock (Gate) Live.Add(data, view);
        IntPtr handle;
        fixed (long* dims = shape)
        {
            handle = TorchNative.THSTensor_new(data, &Release, dims, shape.Length, (sbyte)type, (sbyte)type,
                deviceType: 0, deviceIndex: 0, requiresGrad: false);
        }
        if (handle == IntPtr.Zero)
        {
            string error = TorchNative.LastError();
            ReleaseCore(data); // libtorch never took ownership
            throw new PeftSharpException($"libtorch could not wrap mapped memory as a tensor: {error}");
        }
        return torch.Tensor.UnsafeCreateTensor(handle);
    }

    // Runs on whichever thread frees the storage (a finalizer, a dispose scope); must never throw.
    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void Release(IntPtr data) => ReleaseCore(data);

    private static void ReleaseCore(IntPtr data)
    {
        MemoryMappedViewAccessor? view;
        lock (Gate)
        {
            if (!Live.Remove(data, out view)) return;
        }
        view.SafeMemoryMappedViewHandle.ReleasePointer();
        view.Dispose();
    }
}
