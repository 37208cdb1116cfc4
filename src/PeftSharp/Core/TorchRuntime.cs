using TorchSharp;

namespace PeftSharp;

/// <summary>Process-wide torch setup, done once: intra-op threads = physical cores unless overridden.</summary>
public static class TorchRuntime
{
    static readonly object Gate = new();
    static bool initialized;

    /// <summary>Threads torch uses; set PEFTSHARP_THREADS to override.</summary>
    public static int Threads { get; private set; }

    /// <summary>
    /// Sets torch's intra-op thread count once per process: <paramref name="threads"/> when given (which always
    /// re-applies), else the PEFTSHARP_THREADS environment variable, else <see cref="PhysicalCores"/> shared among
    /// <paramref name="processesPerMachine"/>. Values below 1 become 1. Safe to call from several threads; later
    /// calls without a count do nothing.
    /// </summary>
    /// <param name="threads">Threads to use, or null for the default described above.</param>
    /// <param name="processesPerMachine">Processes of one job on this machine (ranks of an MPI job), sharing its cores.</param>
    public static void EnsureInitialized(int? threads = null, int processesPerMachine = 1)
    {
        lock (Gate)
        {
            if (initialized && threads is null) return;
            int n = threads ?? EnvThreads() ?? PhysicalCores() / Math.Max(1, processesPerMachine);
            torch.set_num_threads(Math.Max(1, n));
            Threads = Math.Max(1, n);
            initialized = true;
        }
    }

    static int? EnvThreads() =>
        int.TryParse(Environment.GetEnvironmentVariable("PEFTSHARP_THREADS"), out var n) && n > 0 ? n : null;

    /// <summary>Hyper-threads share a core's matmul units, so physical cores is the faster default.</summary>
    public static int PhysicalCores()
    {
        try
        {
            if (File.Exists("/proc/cpuinfo"))
            {
                var cores = new HashSet<string>();
                string phys = "0";
                foreach (var line in File.ReadLines("/proc/cpuinfo"))
                {
                    if (line.StartsWith("physical id", StringComparison.Ordinal)) phys = line[(line.IndexOf(':') + 1)..].Trim();
                    else if (line.StartsWith("core id", StringComparison.Ordinal)) cores.Add(phys + "/" + line[(line.IndexOf(':') + 1)..].Trim());
                }
                if (cores.Count > 0) return Math.Min(cores.Count, Environment.ProcessorCount);
            }
        }
        catch (IOException) { }
        return Environment.ProcessorCount;
    }
}
