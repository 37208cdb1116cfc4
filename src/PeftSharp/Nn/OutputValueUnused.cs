namespace PeftSharp.Nn;

/// <summary>
/// Marks a call whose output value nobody reads, only its autograd graph: the last op of a block that activation
/// checkpointing re-runs in backward (its output only feeds the block's output, and backward needs the graph, not the
/// value). Functions that can skip their output's main computation there (the fused LoRA Linear skips the frozen base
/// GEMM, or the dequantization and GEMM of a 4-bit base) read <see cref="Active"/>; every other op ignores it.
/// </summary>
public static class OutputValueUnused
{
    [ThreadStatic] static int depth;

    /// <summary>True inside <see cref="Enter"/> on this thread.</summary>
    public static bool Active => depth > 0;

    /// <summary>Marks the calls until the returned scope is disposed.</summary>
    public static Scope Enter()
    {
        depth++;
        return new Scope(true);
    }

    /// <summary>Leaves the mark on dispose (a default instance marks nothing).</summary>
    public readonly struct Scope(bool entered) : IDisposable
    {
        /// <inheritdoc/>
        public void Dispose()
        {
            if (entered) depth--;
        }
    }
}
