using System.Diagnostics;
using System.Text;
using PeftSharp.Tests.Support;

namespace PeftSharp.Tests.Reliability.Fuzz;

/// <summary>
/// One fuzzed format: valid seed inputs (written by the test), how to mutate one, the file name the reader expects,
/// and how to load a file the way the library's users do (open it and read everything in it).
/// </summary>
internal sealed record FuzzFormat(
    string Name,
    string FileName,
    IReadOnlyList<byte[]> Seeds,
    Func<Mutator, byte[], byte[]> Mutate,
    Action<string, int> Load,
    IReadOnlyList<string>? Words = null);

/// <summary>
/// Runs a format's seeded mutations through its reader and checks the invariant for each input: it loads, or it throws
/// <see cref="PeftSharpException"/> (or a subclass); never another exception, never longer than
/// <see cref="TimeLimit"/>, never more managed allocation than <see cref="AllocationBound"/> of its size.
/// <para>
/// Settings (environment): PEFTSHARP_FUZZ_ITERATIONS (default 10,000 per format), PEFTSHARP_FUZZ_SEED (default a fixed
/// seed per format). Input i is built from <c>new Random(Mix(seed, i))</c> alone, so a failure names its seed and index,
/// and the failing bytes are saved to a file named in the assertion.
/// </para>
/// </summary>
internal static class FuzzRunner
{
    public const int DefaultIterations = 10_000;
    public static readonly TimeSpan TimeLimit = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Managed bytes one input may allocate on the reading thread: <see cref="AllocationPerByte"/> per input byte plus
    /// <see cref="AllocationConstant"/>. Text formats legitimately expand (UTF-16 strings, JSON DOM nodes, a dictionary
    /// per record), so the factor is generous; the bound exists to catch a length field believed before it is checked
    /// (a 4 GB string length, a 2^40-element tensor), which blows through it by orders of magnitude.
    /// </summary>
    public const long AllocationPerByte = 64;
    public const long AllocationConstant = 8 << 20;

    public static long AllocationBound(long fileSize) => AllocationPerByte * fileSize + AllocationConstant;

    /// <summary>
    /// Where inputs are written: RAM-backed /dev/shm where there is one. On a disk, rewriting a file 10,000 times costs
    /// about a millisecond each while other builds use the disk, twenty times the parse it feeds.
    /// </summary>
    private static TempDir NewScratchDir()
    {
        if (Directory.Exists("/dev/shm"))
        {
            try { return new TempDir("/dev/shm"); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        }
        return Fixtures.NewTempDir();
    }

    public static int Iterations =>
        int.TryParse(Environment.GetEnvironmentVariable("PEFTSHARP_FUZZ_ITERATIONS"), out int n) && n > 0 ? n : DefaultIterations;

    public static int SeedFor(string format) =>
        int.TryParse(Environment.GetEnvironmentVariable("PEFTSHARP_FUZZ_SEED"), out int s) ? s : StableHash(format);

    public static void Run(FuzzFormat format)
    {
        int iterations = Iterations, seed = SeedFor(format.Name);
        using var dir = NewScratchDir();
        string path = dir.File(format.FileName);
        var stats = new Stats();
        var failures = new List<string>();
        var failureKinds = new HashSet<string>(StringComparer.Ordinal);
        int current = -1;
        long startedAt = 0;

        void Worker()
        {
            using var quiet = Diagnostics.RedirectWarnings(_ => { });
            // The seeds must load: a fuzz run over broken seeds proves nothing. This also warms up static state.
            for (int s = 0; s < format.Seeds.Count; s++)
            {
                File.WriteAllBytes(path, format.Seeds[s]);
                try { format.Load(path, -1); }
                catch (Exception e) { failures.Add($"seed input {s} does not load: {e}"); return; }
            }
            var clock = Stopwatch.StartNew();
            for (int i = 0; i < iterations; i++)
            {
                long t0 = Stopwatch.GetTimestamp();
                byte[] input = Generate(format, seed, i);
                long t1 = Stopwatch.GetTimestamp();
                File.WriteAllBytes(path, input);
                stats.MutateSeconds += Stopwatch.GetElapsedTime(t0, t1).TotalSeconds;
                stats.WriteSeconds += Stopwatch.GetElapsedTime(t1).TotalSeconds;
                Volatile.Write(ref current, i);
                Volatile.Write(ref startedAt, Stopwatch.GetTimestamp());
                var (error, allocated, elapsed) = Attempt(format, path, i);
                Volatile.Write(ref startedAt, 0);
                stats.Count(error is null, allocated, input.Length, elapsed);
                string? problem = Check(error, allocated, input.Length, elapsed);
                // Allocation and time can include one-off warm-up (a first exception, a lazy table): confirm by rerunning.
                if (problem is not null && error is null or PeftSharpException)
                {
                    var again = Attempt(format, path, i);
                    problem = Check(again.Error, again.Allocated, input.Length, again.Elapsed);
                }
                if (problem is null) continue;
                string kind = error is null or PeftSharpException ? problem.Split(':')[0] : Signature(error);
                if (!failureKinds.Add(kind)) continue;
                string saved = Save(format, seed, i, input);
                failures.Add($"input #{i} (PEFTSHARP_FUZZ_SEED={seed}, {input.Length} bytes, saved as {saved}): {problem}");
                if (failures.Count >= 20) break;
            }
            stats.Seconds = clock.Elapsed.TotalSeconds;
        }

        var worker = new Thread(Worker, 16 << 20) { IsBackground = true, Name = "fuzz " + format.Name };
        worker.Start();
        while (!worker.Join(100))
        {
            long started = Volatile.Read(ref startedAt);
            if (started != 0 && Stopwatch.GetElapsedTime(started) > TimeLimit + TimeLimit)
            {
                int i = Volatile.Read(ref current);
                var input = Generate(format, seed, i);
                Assert.Fail($"{format.Name}: input #{i} (PEFTSHARP_FUZZ_SEED={seed}, saved as {Save(format, seed, i, input)}) " +
                    $"has run for over {2 * TimeLimit.TotalSeconds} s: the reader hangs");
            }
        }
        string summary = $"{format.Name}: {stats.Inputs} inputs ({stats.Loaded} loaded, {stats.Inputs - stats.Loaded} refused) in {stats.Seconds:F1} s (mutate {stats.MutateSeconds:F1}, write {stats.WriteSeconds:F1}, load {stats.LoadSeconds:F1}); "
            + $"slowest {stats.SlowestMs:F0} ms; most allocated {stats.MaxAllocated:N0} B for a {stats.MaxAllocatedSize:N0}-byte input (bound {AllocationBound(stats.MaxAllocatedSize):N0} B)";
        TestContext.Current.SendDiagnosticMessage(summary);
        TestContext.Current.TestOutputHelper?.WriteLine(summary);
        if (failures.Count > 0)
            Assert.Fail($"{format.Name}: {failures.Count} kind(s) of failure; each input must load or throw PeftSharpException:\n  " + string.Join("\n  ", failures));
    }

    /// <summary>Input <paramref name="index"/> of a run: a function of the seed and the index alone.</summary>
    public static byte[] Generate(FuzzFormat format, int seed, int index)
    {
        var mutator = new Mutator(new Random(Mix(seed, index)), format.Seeds, format.Words ?? []);
        return format.Mutate(mutator, mutator.Pick(format.Seeds));
    }

    private static (Exception? Error, long Allocated, TimeSpan Elapsed) Attempt(FuzzFormat format, string path, int index)
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        long start = Stopwatch.GetTimestamp();
        Exception? error = null;
        try { format.Load(path, index); }
        catch (Exception e) { error = e; }
        return (error, GC.GetAllocatedBytesForCurrentThread() - before, Stopwatch.GetElapsedTime(start));
    }

    private static string? Check(Exception? error, long allocated, int size, TimeSpan elapsed)
    {
        if (error is not null and not PeftSharpException)
            return $"{error.GetType().FullName}: {error.Message}\n{Frames(error)}";
        if (allocated > AllocationBound(size))
            return $"allocation: {allocated:N0} bytes for a {size:N0}-byte input, over the bound {AllocationBound(size):N0} "
                + $"({AllocationPerByte} x size + {AllocationConstant:N0}){(error is null ? "" : $"; it then threw: {error.Message}")}";
        if (elapsed > TimeLimit)
            return $"time: {elapsed.TotalMilliseconds:F0} ms, over the {TimeLimit.TotalSeconds} s limit";
        return null;
    }

    /// <summary>The exception type and the first frame in our code: one entry per distinct bug.</summary>
    private static string Signature(Exception e)
    {
        string frame = (e.StackTrace ?? "").Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.Contains("PeftSharp", StringComparison.Ordinal)) ?? "";
        return e.GetType().FullName + " " + frame;
    }

    private static string Frames(Exception e) =>
        string.Join("\n", (e.StackTrace ?? "").Split('\n').Take(8).Select(l => "      " + l.Trim()));

    private static string Save(FuzzFormat format, int seed, int index, byte[] input)
    {
        string folder = Path.Combine(Path.GetTempPath(), "peftsharp-fuzz-failures");
        Directory.CreateDirectory(folder);
        string file = Path.Combine(folder, $"{format.Name}-seed{seed}-input{index}-{format.FileName}");
        File.WriteAllBytes(file, input);
        return file;
    }

    public static int Mix(int seed, int index) => unchecked((int)(((uint)seed * 0x9E3779B1u) ^ ((uint)index * 0x85EBCA77u) ^ 0x5bd1e995u));

    private static int StableHash(string s)
    {
        uint h = 2166136261;
        foreach (byte b in Encoding.UTF8.GetBytes(s)) h = (h ^ b) * 16777619;
        return (int)(h & 0x7FFFFFFF);
    }

    private sealed class Stats
    {
        public int Inputs, Loaded;
        public long MaxAllocated, MaxAllocatedSize;
        public double SlowestMs, Seconds, MutateSeconds, WriteSeconds, LoadSeconds;

        public void Count(bool loaded, long allocated, long size, TimeSpan elapsed)
        {
            Inputs++;
            if (loaded) Loaded++;
            if (allocated > MaxAllocated) (MaxAllocated, MaxAllocatedSize) = (allocated, size);
            SlowestMs = Math.Max(SlowestMs, elapsed.TotalMilliseconds);
            LoadSeconds += elapsed.TotalSeconds;
        }
    }
}
