using PeftSharp.Quantization;

namespace PeftSharp.Tests.Quantization;

/// <summary>The derived code tables equal the constants bitsandbytes publishes.</summary>
public class CodebookTests
{
    // bitsandbytes functional.py get_4bit_type("nf4").
    static readonly double[] BnbNf4 =
    [
        -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635, -0.18477343022823334,
        -0.09105003625154495, 0.0, 0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
        0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0,
    ];

    // bitsandbytes get_4bit_type("fp4"), before its division by the max.
    static readonly double[] BnbFp4Unscaled = [0, 0.0625, 8.0, 12.0, 4.0, 6.0, 2.0, 3.0, -0, -0.0625, -8.0, -12.0, -4.0, -6.0, -2.0, -3.0];

    [Fact]
    public void Derived_nf4_equals_bitsandbytes_published_values()
    {
        var nf4 = Codebooks.Nf4;
        Assert.Equal(16, nf4.Count);
        double worst = 0;
        for (int i = 0; i < 16; i++) worst = Math.Max(worst, Math.Abs(nf4[i] - BnbNf4[i]));
        TestContext.Current.TestOutputHelper?.WriteLine($"max |derived - published| = {worst:E2}");
        Assert.True(worst < 1e-6, $"max deviation {worst}");
        Assert.Equal(0f, nf4[7]);
    }

    [Fact]
    public void Derived_fp4_equals_bitsandbytes_table_in_code_order()
    {
        var fp4 = Codebooks.Fp4;
        for (int i = 0; i < 16; i++) Assert.Equal((float)(BnbFp4Unscaled[i] / 12.0), fp4[i]);
        Assert.True(float.IsNegative(fp4[8]), "code 8 is -0 (sign bit with zero magnitude)");
    }

    [Fact]
    public void Dynamic_map_has_bnb_structure()
    {
        var map = Codebooks.DynamicSigned8Bit;
        Assert.Equal(256, map.Count);
        for (int i = 1; i < 256; i++) Assert.True(map[i - 1] <= map[i], "sorted");
        Assert.Equal(-0.99296875f, map[0]); // -(0.9859375 + 1) / 2: the largest mean of linspace(0.1, 1, 65)
        Assert.Equal(1f, map[255]);
        Assert.Contains(0f, map);
        // Symmetric apart from the extra 1.0: the 254 non-zero, non-one values come in ± pairs.
        var rest = map.Where(v => v != 0f && v != 1f).ToList();
        Assert.Equal(254, rest.Count);
        foreach (var v in rest) Assert.Contains(-v, rest);
        // Smallest magnitude: 1e-6 * mean(0.1, 1) = 0.55e-6 (exponent 0 has a single fraction item).
        float smallest = rest.Min(Math.Abs);
        Assert.Equal(0.55e-6f, smallest, 1e-12f);
        // Exponent i contributes 2^i values per sign in [1e(i-6) * 0.1, 1e(i-6)].
        Assert.Equal(64, rest.Count(v => v > 0.1f && v < 1f));
    }

    // Expected values: Python's statistics.NormalDist().inv_cdf (Wichura AS241, ~1e-16).
    [Theory]
    [InlineData(0.5, 0.0)]
    [InlineData(0.975, 1.9599639845400536)]
    [InlineData(0.9677083, 1.848130959757373)]
    [InlineData(1e-10, -6.361340902404056)]
    [InlineData(0.999999, 4.753424308817089)]
    public void Inverse_normal_cdf_matches_AS241(double p, double expected)
    {
        Assert.Equal(expected, NormalDistribution.InverseCdf(p), 1e-12);
        Assert.Equal(p, NormalDistribution.Cdf(NormalDistribution.InverseCdf(p)), 1e-15);
    }
}
