using PeftSharp.Bench;

// PeftSharp benchmarks. Run in Release:
//   dotnet run -c Release --project bench/PeftSharp.Bench -- load [--dir bench/out/qwen2.5-0.5b-random] [--repeats 3]
//   dotnet run -c Release --project bench/PeftSharp.Bench -- kernels [--size 4096] [--runs 15] [--tokens 4096] [--matmul-runs 3]
//   dotnet run -c Release --project bench/PeftSharp.Bench -- linear [--tokens 4096] [--runs 5]
//   dotnet run -c Release --project bench/PeftSharp.Bench -- suite [--quick] [--shapes smollm-135m,qwen2.5-0.5b] [--layers N] [--modes full,lora,qlora,reference]
//        [--seq 512,2048] [--batch 1,4] [--ckpt off,on] [--steps 3] [--soak 2000] [--loss-seq 2048] [--training-only] [--no-plain-row] [--no-kernels] [--out bench/out]
//   dotnet run -c Release --project bench/PeftSharp.Bench -- compare [--steps 200] [--methods lora-r8,ia3,...] [--out bench/out/compare]
//   dotnet run -c Release --project bench/PeftSharp.Bench -- profile [--shape smollm|qwen] [--batch 4] [--seq 512]
//   dotnet run -c Release --project bench/PeftSharp.Bench -- soak [--steps 5000] [--out bench/out/soak]
//   dotnet run -c Release --project bench/PeftSharp.Bench -- figures [--out docs/images] [--count 1048576]
var argv = args.ToList();
string Opt(string name, string fallback)
{
    int i = argv.IndexOf(name);
    return i >= 0 && i + 1 < argv.Count ? argv[i + 1] : fallback;
}
var root = Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "../../../../.."));
switch (argv.FirstOrDefault())
{
    case "load":
        return LoadBenchmark.Run(Opt("--dir", Path.Combine(root, "bench/out/qwen2.5-0.5b-random")),
            int.Parse(Opt("--repeats", "3"), System.Globalization.CultureInfo.InvariantCulture),
            Opt("--json", Path.Combine(root, "bench/out/load.json")));
    case "kernels":
        return KernelBenchmark.Run(int.Parse(Opt("--size", "4096"), System.Globalization.CultureInfo.InvariantCulture),
            int.Parse(Opt("--runs", "15"), System.Globalization.CultureInfo.InvariantCulture),
            int.Parse(Opt("--tokens", "4096"), System.Globalization.CultureInfo.InvariantCulture),
            int.Parse(Opt("--matmul-runs", "3"), System.Globalization.CultureInfo.InvariantCulture));
    case "linear":
        return LinearBenchmark.Run(int.Parse(Opt("--tokens", "4096"), System.Globalization.CultureInfo.InvariantCulture),
            int.Parse(Opt("--runs", "5"), System.Globalization.CultureInfo.InvariantCulture));
    case "rates":
        Console.WriteLine($"bf16 matmul {PeftSharp.Bench.Suite.MachineRates.Bf16MatmulGflops():F0} GFLOP/s, fp32 matmul {PeftSharp.Bench.Suite.MachineRates.MatmulGflops(TorchSharp.torch.ScalarType.Float32):F0} GFLOP/s, memcpy {PeftSharp.Bench.Suite.MachineRates.MemcpyGBps():F1} GB/s; "
            + $"bf16 GEMMs {(PeftSharp.Nn.FastPaths.WideBf16Gemm ? "widened to fp32" : "kept bf16")} (probe {PeftSharp.Nn.WideGemm.Measurement.Bf16Ms:F2} ms bf16, {PeftSharp.Nn.WideGemm.Measurement.WidenedMs:F2} ms widened)");
        return 0;
    case "profile":
        return PeftSharp.Bench.Suite.LayerProfile.Run(Opt("--shape", "smollm"), int.Parse(Opt("--batch", "4"), System.Globalization.CultureInfo.InvariantCulture),
            int.Parse(Opt("--seq", "512"), System.Globalization.CultureInfo.InvariantCulture), int.Parse(Opt("--runs", "5"), System.Globalization.CultureInfo.InvariantCulture), fusedOnly: argv.Contains("--fused-only"));
    case "suite":
    {
        var outDir = Opt("--out", Path.Combine(root, "bench/out"));
        var o = argv.Contains("--quick") ? PeftSharp.Bench.Suite.SuiteOptions.QuickDefaults(outDir) : new PeftSharp.Bench.Suite.SuiteOptions { OutDir = outDir };
        List<int> Ints(string v) => v.Split(',').Select(x => int.Parse(x, System.Globalization.CultureInfo.InvariantCulture)).ToList();
        o = o with
        {
            Shapes = Opt("--shapes", string.Join(",", o.Shapes)).Split(','),
            Layers = int.Parse(Opt("--layers", $"{o.Layers}"), System.Globalization.CultureInfo.InvariantCulture),
            Modes = Opt("--modes", string.Join(",", o.Modes)).Split(','),
            Seqs = Ints(Opt("--seq", string.Join(",", o.Seqs))),
            Batches = Ints(Opt("--batch", string.Join(",", o.Batches))),
            Checkpointing = Opt("--ckpt", "off,on").Split(',').Select(x => x == "on").ToList(),
            Steps = int.Parse(Opt("--steps", $"{o.Steps}"), System.Globalization.CultureInfo.InvariantCulture),
            SoakSteps = int.Parse(Opt("--soak", $"{o.SoakSteps}"), System.Globalization.CultureInfo.InvariantCulture),
            LossSeq = int.Parse(Opt("--loss-seq", $"{o.LossSeq}"), System.Globalization.CultureInfo.InvariantCulture),
            Kernels = !argv.Contains("--no-kernels"),
            SideMeasurements = !argv.Contains("--training-only"),
            NoFastPathsRow = !argv.Contains("--no-plain-row"),
        };
        return PeftSharp.Bench.Suite.SuiteRunner.Run(o);
    }
    case "compare":
        return PeftSharp.Bench.Compare.MethodComparison.Run(root, Opt("--out", Path.Combine(root, "bench/out/compare")),
            int.Parse(Opt("--steps", "200"), System.Globalization.CultureInfo.InvariantCulture),
            argv.Contains("--methods") ? Opt("--methods", "").Split(',') : null);
    case "soak":
        return PeftSharp.Bench.Reliability.TrainerSoak.Run(int.Parse(Opt("--steps", "5000"), System.Globalization.CultureInfo.InvariantCulture),
            Opt("--out", Path.Combine(root, "bench/out/soak")));
    case "figures":
        return PeftSharp.Bench.Docs.ConceptFigures.Run(Opt("--out", Path.Combine(root, "docs/images")),
            long.Parse(Opt("--count", "1048576"), System.Globalization.CultureInfo.InvariantCulture));
    case "suite-train":
        return PeftSharp.Bench.Suite.TrainChild.Run(argv[1], argv[2]);
    case "suite-loss":
        return PeftSharp.Bench.Suite.SideMeasurements.LossChild(argv[1], int.Parse(argv[2], System.Globalization.CultureInfo.InvariantCulture),
            int.Parse(argv[3], System.Globalization.CultureInfo.InvariantCulture), int.Parse(argv[4], System.Globalization.CultureInfo.InvariantCulture));
    case "suite-soak":
        return PeftSharp.Bench.Suite.SideMeasurements.SoakChild(int.Parse(argv[1], System.Globalization.CultureInfo.InvariantCulture));
    case "load-child":
        return LoadBenchmark.Child(argv[1], argv[2]);
    default:
        Console.Error.WriteLine("usage: PeftSharp.Bench load [--dir DIR] [--repeats N] [--json FILE]");
        Console.Error.WriteLine("       PeftSharp.Bench kernels [--size N] [--runs N] [--tokens N] [--matmul-runs N]");
        Console.Error.WriteLine("       PeftSharp.Bench linear [--tokens N] [--runs N]");
        Console.Error.WriteLine("       PeftSharp.Bench suite [--quick] [--shapes A,B] [--modes full,lora,qlora,reference] [--seq N,M] [--batch N,M] [--ckpt off,on] [--steps N] [--training-only] [--no-plain-row]");
        Console.Error.WriteLine("       PeftSharp.Bench compare [--steps N] [--methods a,b] [--out DIR]");
        Console.Error.WriteLine("       PeftSharp.Bench profile [--shape smollm|qwen] [--batch N] [--seq N]");
        Console.Error.WriteLine("       PeftSharp.Bench soak [--steps N] [--out DIR]");
        Console.Error.WriteLine("       PeftSharp.Bench figures [--out DIR] [--count N]");
        return 2;
}
