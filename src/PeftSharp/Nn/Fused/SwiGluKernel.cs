using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using PeftSharp.IO.SafeTensors;
using PeftSharp.Quantization;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftSharp.Nn.Fused;

/// <summary>
/// SwiGLU backward in one pass over contiguous CPU bf16/fp32 tensors, fp32 math in registers: reads gate, up and g once,
/// writes d_gate and d_up once, where torch ops would take a pass and a tensor per operation (and torch's silu backward
/// is not reachable from TorchSharp). Vector512 where AVX-512 is present (twice the speed of Vector256 here), else
/// Vector256. A tail shorter than one step goes through a zero-padded buffer, so every element sees the same code.
/// </summary>
public static class SwiGluKernel
{
    /// <summary>
    /// The width the kernel uses: <see cref="KernelIsa.Auto"/> picks the widest; <see cref="KernelIsa.Scalar"/> means no
    /// kernel (the torch-op path). Process-wide, for tests and measurements.
    /// </summary>
    public static KernelIsa Isa { get; set; } = KernelIsa.Auto;

    static bool Wide => Isa == KernelIsa.Vector512 || (Isa == KernelIsa.Auto && W512.IsSupported);

    /// <summary>Whether the kernel handles these tensors: CPU, contiguous, one dtype of bf16/fp32, a SIMD width chosen.</summary>
    internal static bool Supports(params Tensor[] tensors) =>
        Isa != KernelIsa.Scalar && (Wide ? W512.IsSupported : W256.IsSupported)
        && tensors.All(t => t.device_type == DeviceType.CPU && t.is_contiguous() && t.dtype == tensors[0].dtype)
        && tensors[0].dtype is ScalarType.BFloat16 or ScalarType.Float32;

    /// <summary>dGate = g·up·σ·(1 + gate·(1 − σ)) and dUp = g·silu(gate), σ = σ(gate); either output may be null.</summary>
    internal static void Backward(Tensor gate, Tensor up, Tensor grad, Tensor? dGate, Tensor? dUp) =>
        Run(new Pointers(gate, up, grad, dGate, dUp), gate.numel(), gate.dtype == ScalarType.BFloat16);

    static void Run(Pointers p, long n, bool bf16)
    {
        const long Chunk = 1 << 16;
        Action<long, long> range = (Wide, bf16) switch
        {
            (true, true) => (s, e) => Body<Vector512<float>, W512, Bf16Element>.Range(p, s, e),
            (true, false) => (s, e) => Body<Vector512<float>, W512, F32Element>.Range(p, s, e),
            (false, true) => (s, e) => Body<Vector256<float>, W256, Bf16Element>.Range(p, s, e),
            (false, false) => (s, e) => Body<Vector256<float>, W256, F32Element>.Range(p, s, e),
        };
        // As many threads as torch uses, the calling one first (see CallerFirstParallel for why not Parallel.For).
        CallerFirstParallel.For((n + Chunk - 1) / Chunk, get_num_threads() - 1, c => range(c * Chunk, Math.Min(n, (c + 1) * Chunk)));
    }

    /// <summary>Element addresses of gate, up, g and the two outputs; 0 for an output not wanted.</summary>
    readonly record struct Pointers(nint Gate, nint Up, nint Grad, nint DGate, nint DUp)
    {
        public Pointers(Tensor gate, Tensor up, Tensor grad, Tensor? dGate, Tensor? dUp)
            : this(Address(gate), Address(up), Address(grad), Address(dGate), Address(dUp)) { }

        static nint Address(Tensor? t) => t is null ? 0 : TorchNative.THSTensor_data(t.Handle);
    }

    static unsafe class Body<TV, TW, TE>
        where TV : struct
        where TW : struct, ISimdWidth<TV>
        where TE : struct, IElementType
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static void Range(Pointers p, long start, long end)
        {
            int step = 2 * TW.Count;
            long full = start + (end - start) / step * step;
            for (long i = start; i < full; i += step) Step(p, i);
            if (full < end) Tail(p, full, (int)(end - full));
        }

        /// <summary>The last elements (fewer than one step): copied into zero-padded buffers, computed, copied back.</summary>
        static void Tail(Pointers p, long at, int count)
        {
            const int Bytes = 32 * 4; // the widest step of the widest element
            byte* buf = stackalloc byte[5 * Bytes];
            new Span<byte>(buf, 5 * Bytes).Clear();
            int size = TE.Size * count;
            Span<nint> src = stackalloc nint[] { p.Gate, p.Up, p.Grad, p.DGate, p.DUp };
            Span<nint> local = stackalloc nint[5];
            for (int k = 0; k < 5; k++)
            {
                local[k] = src[k] == 0 ? 0 : (nint)(buf + k * Bytes);
                if (k < 3 && src[k] != 0) Buffer.MemoryCopy((byte*)src[k] + at * TE.Size, buf + k * Bytes, Bytes, size);
            }
            Step(new Pointers(local[0], local[1], local[2], local[3], local[4]), 0);
            for (int k = 3; k < 5; k++)
                if (src[k] != 0) Buffer.MemoryCopy(buf + k * Bytes, (byte*)src[k] + at * TE.Size, size, size);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static void Step(Pointers p, long i)
        {
            SimdMath<TV, TW>.Load<TE>(p.Gate, i, out var x0, out var x1);
            SimdMath<TV, TW>.Load<TE>(p.Grad, i, out var d0, out var d1);
            TV s0 = SimdMath<TV, TW>.Sigmoid(x0), s1 = SimdMath<TV, TW>.Sigmoid(x1);
            if (p.DGate != 0)
            {
                SimdMath<TV, TW>.Load<TE>(p.Up, i, out var u0, out var u1);
                SimdMath<TV, TW>.Store<TE>(p.DGate, i, GateGrad(x0, u0, s0, d0), GateGrad(x1, u1, s1, d1));
            }
            if (p.DUp != 0)
                SimdMath<TV, TW>.Store<TE>(p.DUp, i, TW.Mul(d0, TW.Mul(x0, s0)), TW.Mul(d1, TW.Mul(x1, s1)));
        }

        /// <summary>g·up·σ·(1 + gate·(1 − σ)).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static TV GateGrad(TV gate, TV up, TV sig, TV g)
        {
            var one = TW.Splat(1f);
            var slope = TW.Mul(sig, TW.MulAdd(gate, TW.Sub(one, sig), one));
            return TW.Mul(TW.Mul(g, up), slope);
        }
    }
}
