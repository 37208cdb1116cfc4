using FsCheck;
using FsCheck.Fluent;
using PeftSharp.Quantization;

namespace PeftSharp.Tests.Quantization;

/// <summary>FsCheck properties of packing, blockwise quantization and double quantization.</summary>
public class QuantizationPropertyTests
{
    static readonly Config Quick = Config.QuickThrowOnFailure.WithMaxTest(60);

    static Gen<int> BlockSizeGen => Gen.Choose(5, 12).Select(e => 1 << e);

    [Fact]
    public void Pack_then_unpack_gives_the_codes_back_for_any_length()
    {
        var gen = Gen.ArrayOf(Gen.Choose(0, 15).Select(c => (byte)c));
        Check.One(Quick, Prop.ForAll(Arb.From(gen), codes =>
        {
            var packed = NibblePacking.Pack(codes);
            if (packed.Length != (codes.Length + 1) / 2) return false;
            if (codes.Length % 2 == 1 && (packed[^1] & 15) != 0) return false; // zero pad nibble
            if (!NibblePacking.Unpack(packed, codes.Length).AsSpan().SequenceEqual(codes)) return false;
            if (codes.Length == 0) return true;
            // The kernel and the torch reference read the same layout: with absmax 1 each element is its code value.
            using var scope = NewDisposeScope();
            int n = codes.Length;
            using var state = new QuantState4Bit(QuantType.Nf4, 64, [n], ScalarType.Float32,
                tensor(packed).reshape(packed.Length, 1), ones((n + 63) / 64));
            var expected = codes.Select(c => Codebooks.Nf4[c]).ToArray();
            return state.Dequantize().data<float>().ToArray().SequenceEqual(expected)
                && TorchReferenceDequant.UnpackCodes(state.Packed, n).data<long>().ToArray().SequenceEqual(codes.Select(c => (long)c));
        }));
    }

    [Fact]
    public void Every_blocksize_dequantizes_within_half_the_largest_code_gap_times_absmax()
    {
        var gen = from bs in BlockSizeGen
                  from n in Gen.Choose(1, 9000)
                  from seed in Gen.Choose(0, 1 << 20)
                  from type in Gen.Elements(QuantType.Nf4, QuantType.Fp4)
                  select (bs, n, seed, type);
        Check.One(Quick, Prop.ForAll(Arb.From(gen), c =>
        {
            using var scope = NewDisposeScope();
            var x = randn(c.n, generator: new Generator().manual_seed(c.seed)) * 10;
            using var state = BlockwiseQuantizer.Quantize(x, c.type, c.bs);
            var sorted = Codebooks.For(c.type).Order().ToArray();
            double halfGap = sorted.Zip(sorted.Skip(1), (a, b) => b - a).Max() / 2;
            var bound = state.Absmax!.repeat_interleave(c.bs).narrow(0, 0, c.n) * (halfGap * (1 + 1e-6));
            var err = (state.Dequantize() - x).abs();
            return (err <= bound + 1e-30).all().item<bool>();
        }));
    }

    [Fact]
    public void Double_quantized_absmax_error_is_bounded_by_the_dynamic_map_resolution()
    {
        var gen = from n in Gen.Choose(1, 40000)
                  from seed in Gen.Choose(0, 1 << 20)
                  from scale in Gen.Elements(1e-3, 1.0, 50.0)
                  select (n, seed, scale);
        var code = Codebooks.DynamicSigned8Bit;
        double halfGap = code.Zip(code.Skip(1), (a, b) => b - a).Max() / 2; // 0.0070 near ±1
        Check.One(Quick, Prop.ForAll(Arb.From(gen), c =>
        {
            using var scope = NewDisposeScope();
            var x = randn(c.n, generator: new Generator().manual_seed(c.seed)) * c.scale;
            using var plain = BlockwiseQuantizer.Quantize(x, QuantType.Nf4, 32);
            using var dq = BlockwiseQuantizer.Quantize(x, QuantType.Nf4, 32, doubleQuant: true);
            long blocks = plain.Blocks;
            var truth = plain.Absmax!;
            var reconstructed = dq.AbsmaxFp32();
            // Per nested block of 256: |err| ≤ half the largest map gap × max|absmax - offset| (+ fp32 rounding).
            var range = dq.Nested!.Absmax.repeat_interleave(256).narrow(0, 0, blocks);
            var bound = range * (halfGap * (1 + 1e-5)) + truth.abs() * 1e-6;
            return ((reconstructed - truth).abs() <= bound).all().item<bool>();
        }));
    }

    [Fact]
    public void Invalid_blocksizes_are_rejected()
    {
        var gen = Gen.Choose(-10, 10000).Where(b => !(b >= 32 && b <= 4096 && (b & (b - 1)) == 0));
        Check.One(Quick, Prop.ForAll(Arb.From(gen), bs =>
        {
            using var scope = NewDisposeScope();
            try
            {
                using var _ = BlockwiseQuantizer.Quantize(ones(100), QuantType.Nf4, bs);
                return false;
            }
            catch (ConfigurationException e)
            {
                return e.Message.Contains(bs.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);
            }
        }));
        Assert.Throws<ConfigurationException>(() => Blockwise8Bit.Quantize(ones(10), 100));
    }
}
