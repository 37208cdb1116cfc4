using PeftSharp.Quantization;

namespace PeftSharp.Tests.Quantization;

/// <summary>The SIMD kernels give the torch-ops reference's bits, on every path, blocksize, length and layout.</summary>
public class DequantKernelTests
{
    public static TheoryData<int> AllBlockSizes => new(32, 64, 128, 256, 512, 1024, 2048, 4096);

    static IEnumerable<KernelIsa> SupportedIsas() =>
        new[] { KernelIsa.Scalar, KernelIsa.Vector256, KernelIsa.Vector512 }.Where(KernelIsas.IsSupported);

    static void AssertBitEqual(Tensor expected, Tensor actual, string what)
    {
        Assert.Equal(expected.shape, actual.shape);
        Assert.Equal(expected.dtype, actual.dtype);
        var e = expected.contiguous().bytes.ToArray();
        var a = actual.contiguous().bytes.ToArray();
        for (int i = 0; i < e.Length; i++)
            if (e[i] != a[i]) Assert.Fail($"{what}: first differing byte {i} of {e.Length}");
    }

    [Theory]
    [MemberData(nameof(AllBlockSizes))]
    public void Kernel_equals_torch_reference_bit_for_bit(int blockSize)
    {
        using var scope = NewDisposeScope();
        var gen = new Generator().manual_seed(blockSize);
        // Odd and even lengths, a partial last block, and one shorter than a block.
        foreach (long n in new long[] { blockSize * 37L + 11, blockSize * 5L, 17, 3 * blockSize * 256L + 1 })
        foreach (var type in new[] { QuantType.Nf4, QuantType.Fp4 })
        foreach (bool dq in new[] { false, true })
        {
            var x = randn(n, generator: gen) * 3;
            using var state = BlockwiseQuantizer.Quantize(x, type, blockSize, dq);
            foreach (var dtype in new[] { ScalarType.Float32, ScalarType.BFloat16 })
            {
                var reference = TorchReferenceDequant.Dequantize(state, dtype);
                foreach (var isa in SupportedIsas())
                    AssertBitEqual(reference, state.Dequantize(dtype, isa), $"n={n} {type} dq={dq} {dtype} {isa}");
            }
        }
    }

    [Fact]
    public void Non_finite_and_huge_scales_round_as_torch_does_on_every_path()
    {
        using var scope = NewDisposeScope();
        var x = randn(64 * 6, generator: new Generator().manual_seed(11));
        using var state = BlockwiseQuantizer.Quantize(x, QuantType.Nf4, 64, doubleQuant: false);
        // NaN, +inf, a scale whose bf16 rounding overflows to inf, and one that rounds up at a tie's neighbourhood.
        state.Absmax!.index_put_(tensor(new[] { float.NaN, float.PositiveInfinity, 3.4e38f, 1.00390625f }), tensor(new long[] { 0, 1, 2, 3 }));
        foreach (var dtype in new[] { ScalarType.Float32, ScalarType.BFloat16 })
        {
            // torch's own bf16 rounding may keep a NaN's sign bit, so NaNs compare as NaNs there and bit for bit across our paths.
            var reference = TorchReferenceDequant.Dequantize(state, dtype).to(ScalarType.Float32);
            var scalar = state.Dequantize(dtype, KernelIsa.Scalar);
            Assert.True(reference.isnan().equal(scalar.to(ScalarType.Float32).isnan()).all().item<bool>(), $"{dtype}: NaN positions");
            Assert.True(reference.nan_to_num(0).equal(scalar.to(ScalarType.Float32).nan_to_num(0)).all().item<bool>(), $"{dtype}: values");
            foreach (var isa in SupportedIsas())
                AssertBitEqual(scalar, state.Dequantize(dtype, isa), $"{dtype} {isa}");
        }
    }

    [Fact]
    public void Two_dimensional_weights_keep_their_shape_and_large_tensors_run_in_parallel()
    {
        using var scope = NewDisposeScope();
        var w = randn(new long[] { 513, 1031 }, generator: new Generator().manual_seed(7));
        using var state = BlockwiseQuantizer.Quantize(w, QuantType.Nf4, 64, doubleQuant: true);
        Assert.Equal([(513L * 1031 + 1) / 2, 1L], state.Packed.shape);
        var output = state.Dequantize(ScalarType.BFloat16);
        Assert.Equal([513L, 1031L], output.shape);
        AssertBitEqual(TorchReferenceDequant.Dequantize(state, ScalarType.BFloat16), output, "bf16 2-D");
    }

    [Fact]
    public void Quantize_kernel_equals_torch_bucketize_reference()
    {
        using var scope = NewDisposeScope();
        foreach (var type in new[] { QuantType.Nf4, QuantType.Fp4 })
        {
            const int bs = 64;
            var x = randn(64 * 100 + 5, generator: new Generator().manual_seed(3));
            x[0] = 0; // exact zero, and a block ending on an exact midpoint value
            using var state = BlockwiseQuantizer.Quantize(x, type, bs);
            long n = x.numel();
            var (mids, codeOfSorted) = Codebooks.Buckets(Codebooks.For(type));
            var absmax = x.abs().reshape(-1).narrow(0, 0, n - 5).reshape(-1, bs).amax([1]);
            absmax = cat([absmax, x.narrow(0, n - 5, 5).abs().amax([0]).reshape(1)]);
            Assert.Equal(absmax.data<float>().ToArray(), state.Absmax!.data<float>().ToArray());
            var scaled = x / absmax.repeat_interleave(bs).narrow(0, 0, n);
            var sortedIdx = bucketize(scaled, tensor(mids), right: true);
            var expected = tensor(codeOfSorted.Select(b => (long)b).ToArray()).index_select(0, sortedIdx);
            Assert.Equal(expected.data<long>().ToArray(), TorchReferenceDequant.UnpackCodes(state.Packed, n).data<long>().ToArray());
        }
    }

    [Fact]
    public void Values_exactly_on_a_midpoint_go_to_the_upper_code()
    {
        using var scope = NewDisposeScope();
        var code = Codebooks.Nf4;
        float mid = (code[9] + code[10]) / 2f;
        // Block absmax 1 (the last element), so x / absmax is the midpoint itself.
        var x = zeros(64);
        x[0] = mid;
        x[63] = 1f;
        using var state = BlockwiseQuantizer.Quantize(x, QuantType.Nf4, 64);
        Assert.Equal(10L, TorchReferenceDequant.UnpackCodes(state.Packed, 64)[0].item<long>());
        Assert.Equal(7L, TorchReferenceDequant.UnpackCodes(state.Packed, 64)[1].item<long>()); // 0 -> the zero code
    }

    [Fact]
    public void All_zero_blocks_dequantize_to_zero()
    {
        using var scope = NewDisposeScope();
        using var state = BlockwiseQuantizer.Quantize(zeros(200), QuantType.Fp4, 64, doubleQuant: true);
        var y = state.Dequantize();
        Assert.Equal(0f, y.abs().max().item<float>());
    }
}
