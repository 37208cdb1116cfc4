namespace PeftSharp.Quantization;

/// <summary>
/// The bitsandbytes code tables, derived here with bnb's own recipe (not pasted), in float32 as bnb stores them.
/// Checkpoints carry their quant_map too; these are what we write and what the tests compare with bnb's constants.
/// </summary>
public static class Codebooks
{
    /// <summary>bnb create_normal_map's default offset: the quantile of the outermost NF4 value.</summary>
    public const double Nf4Offset = 0.9677083;

    static readonly float[] Nf4Table = CreateNormalMap(Nf4Offset);
    static readonly float[] Fp4Table = CreateFp4Map();
    static readonly float[] DynamicTable = CreateDynamicMap();
    static readonly float[] UnsignedDynamicTable = CreateDynamicMap(signed: false);

    /// <summary>NormalFloat4: 16 sorted values in [-1, 1], index 7 is 0.</summary>
    public static IReadOnlyList<float> Nf4 => Nf4Table;

    /// <summary>bnb FP4 (E2M1) in bnb's code order: index = the 4-bit code, bit 3 the sign.</summary>
    public static IReadOnlyList<float> Fp4 => Fp4Table;

    /// <summary>bnb's signed 8-bit dynamic map (256 sorted values in [-1, 1]) used for 8-bit blockwise states.</summary>
    public static IReadOnlyList<float> DynamicSigned8Bit => DynamicTable;

    /// <summary>bnb's unsigned 8-bit dynamic map (256 sorted values in [0, 1]): 8-bit Adam's exp_avg_sq code.</summary>
    public static IReadOnlyList<float> DynamicUnsigned8Bit => UnsignedDynamicTable;

    /// <summary>The 16-entry code of <paramref name="type"/>: <see cref="Nf4"/> or <see cref="Fp4"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is not a defined <see cref="QuantType"/>.</exception>
    public static IReadOnlyList<float> For(QuantType type) => type switch
    {
        QuantType.Nf4 => Nf4Table,
        QuantType.Fp4 => Fp4Table,
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "unknown 4-bit quant type"),
    };

    internal static float[] Copy(QuantType type) => [.. For(type)];
    internal static float[] CopyDynamic() => [.. DynamicTable];

    /// <summary>
    /// bnb create_normal_map(offset, use_extra_value=True): 8 positive quantiles norm.ppf(linspace(offset, 0.5, 9)[:-1]),
    /// 7 negative -norm.ppf(linspace(offset, 0.5, 8)[:-1]) and 0; sorted, divided by the max. The asymmetry gives
    /// an exact zero while using all 16 codes. linspace is float32 as in bnb, ppf in double, the result float32.
    /// </summary>
    public static float[] CreateNormalMap(double offset)
    {
        var values = new List<float> { 0f };
        float[] positive = LinspaceFloat32((float)offset, 0.5f, 9);
        for (int i = 0; i < 8; i++) values.Add((float)NormalDistribution.InverseCdf(positive[i]));
        float[] negative = LinspaceFloat32((float)offset, 0.5f, 8);
        for (int i = 0; i < 7; i++) values.Add((float)-NormalDistribution.InverseCdf(negative[i]));
        values.Sort();
        float max = values[^1];
        return values.Select(v => v / max).ToArray();
    }

    /// <summary>
    /// bnb's FP4 is E2M1 with a 2-bit exponent field e (bits 2..1) and mantissa m (bit 0), laid out so that the
    /// exponent field counts *down*: e = 1, 2, 3 scale by 2^3, 2^2, 2^1, i.e. value = 2^(4-e) * (1 + m/2); e = 0 is
    /// subnormal, m * 2^-4 (0 and 0.0625). Bit 3 is the sign, so codes 8..15 mirror 0..7 (code 8 is -0).
    /// That yields bnb's table [0, 0.0625, 8, 12, 4, 6, 2, 3, -0, ...], normalized by its max 12.
    /// </summary>
    static float[] CreateFp4Map()
    {
        var table = new float[16];
        for (int code = 0; code < 16; code++)
        {
            int e = (code >> 1) & 3, m = code & 1;
            double magnitude = e == 0 ? m * 0.0625 : Math.Pow(2, 4 - e) * (1 + m / 2.0);
            double value = (code & 8) != 0 ? -magnitude : magnitude;
            table[code] = (float)(value / 12.0);
        }
        return table;
    }

    /// <summary>
    /// bnb create_dynamic_map(signed, max_exponent_bits=7, total_bits=8): for exponent i = 0..6, the midpoints of
    /// linspace(0.1, 1, n_i + 1) scaled by 10^(i-6), with n_i = 2^i per sign when signed and 2^(i+1) when unsigned
    /// (the sign bit becomes one more fraction bit); plus 0 and 1.0; sorted. Both give exactly 256 values.
    /// The float32 arithmetic follows torch's so the values match bnb's tensor bit for bit.
    /// </summary>
    static float[] CreateDynamicMap(bool signed = true)
    {
        var data = new List<float>(256);
        for (int i = 0; i < 7; i++)
        {
            int fractionItems = signed ? 1 << i : 1 << (i + 1);
            float[] boundaries = LinspaceFloat32(0.1f, 1f, fractionItems + 1);
            float scale = (float)Math.Pow(10, i - 6);
            for (int j = 0; j + 1 < boundaries.Length; j++)
            {
                float mean = (boundaries[j] + boundaries[j + 1]) / 2.0f;
                data.Add(scale * mean);
                if (signed) data.Add(-scale * mean);
            }
        }
        data.Add(0f);
        data.Add(1f);
        data.Sort();
        return data.ToArray();
    }

    /// <summary>torch.linspace in float32: step in float, the first half counted from start, the rest back from end.</summary>
    internal static float[] LinspaceFloat32(float start, float end, int steps)
    {
        var result = new float[steps];
        if (steps == 1) { result[0] = start; return result; }
        float step = (end - start) / (steps - 1);
        int half = steps / 2;
        for (int i = 0; i < steps; i++)
            result[i] = i < half ? start + step * i : end - step * (steps - i - 1);
        return result;
    }

    /// <summary>
    /// Decision boundaries between consecutive sorted code values, and the sorted-to-code index map. FP4's -0 sorts
    /// before +0 so that an exact 0 (on their midpoint, which goes up) encodes as +0.
    /// </summary>
    public static (float[] Midpoints, byte[] CodeOfSorted) Buckets(IReadOnlyList<float> code)
    {
        var order = Enumerable.Range(0, code.Count).OrderBy(i => code[i]).ThenBy(i => float.IsNegative(code[i]) ? 0 : 1).ThenBy(i => i).ToArray();
        var mids = new float[code.Count - 1];
        for (int i = 0; i < mids.Length; i++) mids[i] = (code[order[i]] + code[order[i + 1]]) / 2f;
        return (mids, order.Select(i => (byte)i).ToArray());
    }
}
