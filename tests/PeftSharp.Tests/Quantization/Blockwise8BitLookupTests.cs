using PeftSharp.Quantization;

namespace PeftSharp.Tests.Quantization;

/// <summary>The 8-bit quantizer's table-driven nearest-code search against torch.bucketize on the same midpoints.</summary>
public class Blockwise8BitLookupTests
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Codes_equal_bucketize_for_random_values_midpoints_and_their_neighbours(bool signed)
    {
        var code = signed ? Codebooks.DynamicSigned8Bit : Codebooks.DynamicUnsigned8Bit;
        var (mids, codeOfSorted) = Codebooks.Buckets(code);
        var rng = new Random(5);
        var values = new List<float>();
        // Values exactly on every midpoint and one float either side, the ends, zeros, and random magnitudes.
        foreach (var m in mids) values.AddRange(new[] { m, MathF.BitDecrement(m), MathF.BitIncrement(m) });
        values.AddRange(new[] { 1f, -1f, 0f, -0f, 1e-30f, -1e-30f, float.Epsilon, -float.Epsilon });
        for (int i = 0; i < 50_000; i++)
        {
            double mag = Math.Pow(10, -8 * rng.NextDouble());
            values.Add((float)((signed && rng.Next(2) == 0 ? -1 : 1) * mag));
        }
        // Blocks of 4096: the reference divides by the same per-block absmax the quantizer stored.
        var x = tensor(values.ToArray());
        using var q = Blockwise8Bit.Quantize(x, blockSize: 4096, code: code);
        var got = q.Quantized.data<byte>().ToArray();
        var normalized = x / q.Absmax.repeat_interleave(4096).narrow(0, 0, values.Count);
        var idx = bucketize(normalized, tensor(mids), right: true).data<long>().ToArray();
        for (int i = 0; i < values.Count; i++)
            Assert.True(got[i] == codeOfSorted[idx[i]], $"value {values[i]:R}: code {got[i]} but bucketize gives {codeOfSorted[idx[i]]}");
    }
}
