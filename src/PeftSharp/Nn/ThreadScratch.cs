using static TorchSharp.torch;

namespace PeftSharp.Nn;

/// <summary>
/// A per-thread CPU buffer reused by every layer: a fresh multi-MB tensor per matmul means page faults and zero-filling
/// on every call. A view is valid until the next request on the same slot and thread, so only for products computed at
/// once and not recorded by autograd.
/// </summary>
internal static class ThreadScratch
{
    /// <summary>A view of <paramref name="shape"/> and <paramref name="dtype"/> over <paramref name="slot"/>'s buffer, grown when needed.</summary>
    public static Tensor View(ref Tensor? slot, long[] shape, ScalarType dtype)
    {
        long n = shape.Aggregate(1L, (a, b) => a * b);
        if (slot is null || slot.dtype != dtype || slot.numel() < n)
        {
            slot?.Dispose();
            slot = empty(n, dtype).DetachFromDisposeScope();
        }
        return slot.narrow(0, 0, n).view(shape);
    }
}
