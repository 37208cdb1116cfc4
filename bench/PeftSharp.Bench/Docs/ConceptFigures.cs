using PeftSharp.Quantization;
using static TorchSharp.torch;

namespace PeftSharp.Bench.Docs;

/// <summary>
/// The figures and numbers of docs/concepts.md's QLoRA section, from our own code on seeded N(0,1) "weights":
/// where NF4's levels sit against the values a block hands them, and the error of each 4-bit code by block size.
/// The error is computed with plain torch ops (nearest level per value), independently of the SIMD kernels.
/// </summary>
public static class ConceptFigures
{
    static readonly int[] BlockSizes = [32, 64, 128, 256, 512, 1024, 2048, 4096];

    public static int Run(string outDir, long count)
    {
        Directory.CreateDirectory(outDir);
        using var gen = new Generator().manual_seed(1234);
        using var w = randn([count], ScalarType.Float32, generator: gen);
        var codes = new (string Name, float[] Levels)[]
        {
            ("NF4", [.. Codebooks.Nf4]),
            ("FP4", [.. Codebooks.Fp4]),
            ("uniform int4", Enumerable.Range(0, 16).Select(i => (float)(-1 + 2.0 * i / 15)).ToArray()),
        };
        Console.WriteLine($"mean squared error on {count:N0} N(0,1) values (blockwise absmax):");
        Console.WriteLine("| block | " + string.Join(" | ", codes.Select(c => c.Name)) + " |");
        Console.WriteLine("|---|" + string.Concat(codes.Select(_ => "---|")));
        var errors = codes.Select(_ => new double[BlockSizes.Length]).ToArray();
        for (int b = 0; b < BlockSizes.Length; b++)
        {
            for (int c = 0; c < codes.Length; c++) errors[c][b] = Mse(w, codes[c].Levels, BlockSizes[b]);
            Console.WriteLine($"| {BlockSizes[b]} | " + string.Join(" | ", errors.Select(e => e[b].ToString("F5", System.Globalization.CultureInfo.InvariantCulture))) + " |");
        }
        WriteLevelsFigure(w, codes, Path.Combine(outDir, "nf4-levels.png"));
        WriteErrorFigure(codes.Select(c => c.Name).ToArray(), errors, Path.Combine(outDir, "4bit-error-by-block.png"));
        Console.WriteLine($"wrote {outDir}/nf4-levels.png and {outDir}/4bit-error-by-block.png");
        return 0;
    }

    /// <summary>Each block scaled by its absmax, every value replaced by its nearest level, scaled back.</summary>
    static double Mse(Tensor w, float[] levels, int blockSize)
    {
        using var scope = NewDisposeScope();
        var blocks = w.narrow(0, 0, w.shape[0] / blockSize * blockSize).view(-1, blockSize);
        var absmax = blocks.abs().amax([1], keepdim: true);
        var normalised = blocks / absmax;
        var code = tensor(levels);
        double sum = 0;
        // In row chunks: [rows, block, 16] distances would not fit at once for a million values.
        for (long r = 0; r < normalised.shape[0]; r += 4096)
        {
            using var inner = NewDisposeScope();
            long n = Math.Min(4096, normalised.shape[0] - r);
            var x = normalised.narrow(0, r, n);
            var nearest = code.index_select(0, (x.unsqueeze(-1) - code).abs().argmin(-1).flatten()).view(x.shape);
            sum += (nearest * absmax.narrow(0, r, n) - blocks.narrow(0, r, n)).square().sum().item<float>();
        }
        return sum / blocks.numel();
    }

    static void WriteLevelsFigure(Tensor w, (string Name, float[] Levels)[] codes, string path)
    {
        // What the code sees: values divided by their block's absmax (block 64), as a density.
        using var scope = NewDisposeScope();
        var blocks = w.narrow(0, 0, w.shape[0] / 64 * 64).view(-1, 64);
        var normalised = (blocks / blocks.abs().amax([1], keepdim: true)).flatten().data<float>().ToArray();
        const int bins = 80;
        var counts = new double[bins];
        foreach (var v in normalised) counts[Math.Clamp((int)((v + 1) / 2 * bins), 0, bins - 1)]++;
        var plot = new ScottPlot.Plot();
        var centres = Enumerable.Range(0, bins).Select(i => -1 + (i + 0.5) * 2.0 / bins).ToArray();
        var density = counts.Select(c => c / normalised.Length * bins / 2).ToArray();
        var hist = plot.Add.Bars(centres, density);
        hist.LegendText = "weights / block absmax (block 64)";
        foreach (var bar in hist.Bars) { bar.Size = 2.0 / bins; bar.LineWidth = 0; }
        double y = density.Max() * 1.08;
        foreach (var (name, levels) in codes)
        {
            var marks = plot.Add.ScatterPoints(levels.Select(l => (double)l).ToArray(), levels.Select(_ => y).ToArray());
            marks.LegendText = $"{name} levels";
            marks.MarkerSize = 9;
            y += density.Max() * 0.08;
        }
        plot.Axes.Bottom.Label.Text = "normalised weight";
        plot.Axes.Left.Label.Text = "density";
        plot.Title("NF4 puts its 16 levels where a block's values are (normal quantiles); FP4 and int4 do not");
        plot.ShowLegend(ScottPlot.Edge.Bottom);
        plot.SavePng(path, 1000, 520);
    }

    static void WriteErrorFigure(string[] names, double[][] errors, string path)
    {
        var plot = new ScottPlot.Plot();
        var x = BlockSizes.Select(b => Math.Log2(b)).ToArray();
        for (int c = 0; c < names.Length; c++)
        {
            var s = plot.Add.Scatter(x, errors[c]);
            s.LegendText = names[c];
        }
        plot.Axes.Bottom.SetTicks(x, BlockSizes.Select(b => b.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray());
        plot.Axes.Bottom.Label.Text = "block size (values per absmax)";
        plot.Axes.Left.Label.Text = "mean squared error on N(0,1)";
        plot.Title("Smaller blocks, smaller error; NF4 is the most accurate 4-bit code at every block size");
        plot.ShowLegend(ScottPlot.Edge.Bottom);
        plot.SavePng(path, 1000, 520);
    }
}
