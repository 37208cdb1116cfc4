using System.Globalization;
using System.Text;

namespace PeftSharp.Bench.Suite;

/// <summary>The suite report as markdown tables (what the README quotes).</summary>
public static class SuiteMarkdown
{
    public static string Render(SuiteRunner.SuiteReport r)
    {
        var sb = new StringBuilder();
        void Line(FormattableString s) => sb.AppendLine(s.ToString(CultureInfo.InvariantCulture));
        Line($"Machine: {r.Threads} torch threads; bf16 matmul {r.Bf16MatmulGflops:F0} GFLOP/s, fp32 matmul {r.Fp32MatmulGflops:F0} GFLOP/s (the higher is the MFU denominator; the fast paths' bf16 GEMMs {(r.WidenedBf16Gemms ? "ran widened to fp32" : "stayed bf16")}, as measured faster at startup), memcpy {r.MemcpyGBps:F1} GB/s (measured in this run, best of its start and end)");
        sb.AppendLine();
        sb.AppendLine("Step and tokens/s: glibc's default allocator. Peak and working set: MALLOC_MMAP_THRESHOLD_=65536 (freed memory returned), whose own step time and the default allocator's peak are the last two columns.");
        sb.AppendLine();
        sb.AppendLine("| shape | layers | mode | seq | mb | ckpt | step (s) | tokens/s | MFU | peak (MiB) | step working set (MiB) | trainable | loss | step, memory returned (s) | peak, default allocator (MiB) |");
        sb.AppendLine("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
        foreach (var t in r.Training)
        {
            var c = t.Case;
            string mode = c.FastPaths ? c.Mode : c.Mode + " (no fast paths)";
            Line($"| {c.Shape} | {c.Layers} | {mode} | {c.Seq} | {c.Batch} | {(c.Checkpointing ? "on" : "off")} | {t.StepSeconds:F2} | {t.TokensPerSecond:F0} | {t.Mfu(SuiteRunner.MfuDenominator(r)):P1} | {t.PeakMiB:F0} | {t.StepPeakAboveResidentMiB:F0} | {t.Trainable:N0} | {t.FirstLoss:F4} | {t.StepSecondsReturningMemory:F2} | {t.PeakMiBDefaultAllocator:F0} |");
        }
        sb.AppendLine();
        sb.AppendLine("| loss step (vocab, seq) | working set (MiB) | seconds |");
        sb.AppendLine("|---|---|---|");
        foreach (var l in r.Loss) Line($"| {l.Loss} ({l.Vocab}, {l.Seq}) | {l.StepPeakAboveResidentMiB:F0} | {l.Seconds:F2} |");
        if (r.Kernels.Count > 0)
        {
            sb.AppendLine();
            sb.AppendLine("| kernel | ms | GB/s or baseline ms |");
            sb.AppendLine("|---|---|---|");
            foreach (var k in r.Kernels)
                Line($"| {k.Name} | {k.Ms:F2} | {(k.GBps > 0 ? $"{k.GBps:F1} GB/s (memcpy {k.Baseline:F1} GB/s)" : $"{k.Baseline:F2} ms ({k.Ms / k.Baseline:F2}x)")} |");
        }
        if (r.Soak is { } s)
        {
            sb.AppendLine();
            Line($"Soak: {s.Steps} LoRA steps; peak {s.PeakAtStep100MiB:F0} MiB at step 100, {s.PeakAtEndMiB:F0} MiB at the end ({s.GrowthPercent:F2}%); tokens/s {s.TokensPerSecondEarly:F0} early, {s.TokensPerSecondLate:F0} late; open files {s.FdsAtStep100} -> {s.FdsAtEnd}");
        }
        if (r.Equality is { } e)
            Line($"Equality: final loss after {e.Steps} steps {e.FinalLossFast:F6} with every fast path, {e.FinalLossPlain:F6} without (relative difference {e.RelativeDifference:E1}; first loss {e.FirstLoss:F4}); first-step gradients differ by {e.FirstGradientRelativeDifference:E1} (relative norm)");
        sb.AppendLine();
        sb.AppendLine("| target | measured | met |");
        sb.AppendLine("|---|---|---|");
        foreach (var t in r.Targets) sb.AppendLine($"| {t.Target} | {t.Measured} | {(t.Met is null ? "-" : t.Met.Value ? "yes" : "no")} |");
        return sb.ToString();
    }
}
