using PeftSharp.Bench;

// PeftSharp benchmarks. Run in Release:
//   dotnet run -c Release --project bench/PeftSharp.Bench -- load [--dir bench/out/qwen2.5-0.5b-random] [--repeats 3]
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
    case "load-child":
        return LoadBenchmark.Child(argv[1], argv[2]);
    default:
        Console.Error.WriteLine("usage: PeftSharp.Bench load [--dir DIR] [--repeats N] [--json FILE]");
        return 2;
}
