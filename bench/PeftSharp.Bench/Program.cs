using PeftSharp.Bench;

// PeftSharp benchmarks. Run in Release:
//   dotnet run -c Release --project bench/PeftSharp.Bench -- load [--dir bench/out/qwen2.5-0.5b-random] [--repeats 3]
//   dotnet run -c Release --project bench/PeftSharp.Bench -- kernels [--size 4096] [--runs 15] [--tokens 4096] [--matmul-runs 3]
//   dotnet run -c Release --project bench/PeftSharp.Bench -- linear [--tokens 4096] [--runs 5]
//   dotnet run -c Release --project bench/PeftSharp.Bench -- train [--layers 30] [--seq 512] [--batch 1] [--steps 3] [--modes full,lora,qlora] [--loss full|chunked]
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
    case "train":
        return TrainBenchmark.Run(int.Parse(Opt("--layers", "30"), System.Globalization.CultureInfo.InvariantCulture),
            int.Parse(Opt("--seq", "512"), System.Globalization.CultureInfo.InvariantCulture),
            int.Parse(Opt("--batch", "1"), System.Globalization.CultureInfo.InvariantCulture),
            int.Parse(Opt("--steps", "3"), System.Globalization.CultureInfo.InvariantCulture),
            Opt("--json", Path.Combine(root, "bench/out/train.json")),
            Opt("--modes", string.Join(",", TrainBenchmark.Modes)).Split(','),
            Opt("--loss", "full") == "chunked");
    case "train-child":
        return TrainBenchmark.Child(argv[1], argv[2] == "1", int.Parse(argv[3], System.Globalization.CultureInfo.InvariantCulture),
            int.Parse(argv[4], System.Globalization.CultureInfo.InvariantCulture), int.Parse(argv[5], System.Globalization.CultureInfo.InvariantCulture),
            int.Parse(argv[6], System.Globalization.CultureInfo.InvariantCulture), argv.Count > 7 && argv[7] == "1");
    case "rates":
        Console.WriteLine($"bf16 matmul {PeftSharp.Bench.Suite.MachineRates.Bf16MatmulGflops():F0} GFLOP/s, memcpy {PeftSharp.Bench.Suite.MachineRates.MemcpyGBps():F1} GB/s");
        return 0;
    case "profile":
        return PeftSharp.Bench.Suite.LayerProfile.Run(Opt("--shape", "smollm"), int.Parse(Opt("--batch", "4"), System.Globalization.CultureInfo.InvariantCulture),
            int.Parse(Opt("--seq", "512"), System.Globalization.CultureInfo.InvariantCulture), int.Parse(Opt("--runs", "5"), System.Globalization.CultureInfo.InvariantCulture), fusedOnly: argv.Contains("--fused-only"));
    case "load-child":
        return LoadBenchmark.Child(argv[1], argv[2]);
    default:
        Console.Error.WriteLine("usage: PeftSharp.Bench load [--dir DIR] [--repeats N] [--json FILE]");
        Console.Error.WriteLine("       PeftSharp.Bench kernels [--size N] [--runs N] [--tokens N] [--matmul-runs N]");
        Console.Error.WriteLine("       PeftSharp.Bench linear [--tokens N] [--runs N]");
        Console.Error.WriteLine("       PeftSharp.Bench train [--layers N] [--seq N] [--batch N] [--steps N]");
        return 2;
}
