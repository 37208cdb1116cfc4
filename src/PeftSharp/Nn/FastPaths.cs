namespace PeftSharp.Nn;

/// <summary>
/// Switches for the fused training paths (each has its own backward and is tested equal to the plain autograd path).
/// All are on by default; turn one off to measure its gain or to rule it out when debugging. Process-wide.
/// Setting PEFTSHARP_FAST_PATHS=0 starts with all of them off; a list such as PEFTSHARP_FAST_PATHS=-lora,-attention
/// turns off the named ones (lora, rmsnorm, swiglu, rotary, attention, widegemm).
/// </summary>
public static class FastPaths
{
    static readonly string Setting = Environment.GetEnvironmentVariable("PEFTSHARP_FAST_PATHS") ?? "";

    static bool Default(string name) => Setting != "0" && !Setting.Split(',').Contains("-" + name);

    /// <summary>LoRA on a Linear as one function: base + s·(x Aᵀ)Bᵀ in the compute dtype, x Aᵀ computed once and kept.</summary>
    public static bool FusedLora { get; set; } = Default("lora");

    /// <summary>RMSNorm forward/backward that keeps only the input and the per-row inverse RMS.</summary>
    public static bool FusedRmsNorm { get; set; } = Default("rmsnorm");

    /// <summary>silu(gate)·up with a backward that recomputes silu instead of keeping it.</summary>
    public static bool FusedSwiGlu { get; set; } = Default("swiglu");

    /// <summary>Rotary embedding whose backward is the inverse rotation (nothing kept but cos/sin).</summary>
    public static bool FusedRotary { get; set; } = Default("rotary");

    /// <summary>Attention over whole sequences (no KV cache) through <see cref="Fused.BlockwiseAttentionFunction"/> instead of SDPA.</summary>
    public static bool BlockwiseAttention { get; set; } = Default("attention");

    /// <summary>
    /// The fused paths' bf16 GEMMs run in fp32 (<see cref="WideGemm"/>). By default on where that was measured faster on
    /// this CPU (<see cref="WideGemm.MeasuredFaster"/>, timed at first use); setting it decides without measuring.
    /// </summary>
    public static bool WideBf16Gemm
    {
        get => wideBf16Gemm ??= Default("widegemm") && WideGemm.MeasuredFaster;
        set => wideBf16Gemm = value;
    }

    static bool? wideBf16Gemm;

    /// <summary>
    /// Blockwise attention is used for heads at least this wide. Measured: 2.2x SDPA's CPU kernel at head_dim 64
    /// (SmolLM, Qwen2.5), but 5-15% slower and 50-90 MiB more peak at head_dim 8 (stories260K), where SDPA's fused
    /// kernel beats a chain of tiny matmuls.
    /// </summary>
    public static int BlockwiseAttentionMinHeadDim { get; set; } = 32;

    /// <summary>
    /// Keep a quantized base weight's dequantized copy from forward until backward (faster, but costs 16 bits per
    /// parameter of each layer between its forward and backward) instead of dequantizing it again. Off by default.
    /// </summary>
    public static bool KeepDequantizedWeight { get; set; }

    /// <summary>Sets every switch; returns a handle that restores the previous values when disposed.</summary>
    public static IDisposable All(bool on)
    {
        var saved = (FusedLora, FusedRmsNorm, FusedSwiGlu, FusedRotary, BlockwiseAttention, wideBf16Gemm);
        FusedLora = FusedRmsNorm = FusedSwiGlu = FusedRotary = BlockwiseAttention = on;
        wideBf16Gemm = on ? null : false; // on: back to this CPU's measured default
        return new Restore(() => (FusedLora, FusedRmsNorm, FusedSwiGlu, FusedRotary, BlockwiseAttention, wideBf16Gemm) = saved);
    }

    sealed class Restore(Action undo) : IDisposable
    {
        public void Dispose() => undo();
    }
}
