namespace PeftSharp.Bench;

/// <summary>Peak and current resident memory of this process, from /proc (Linux).</summary>
public static class ProcessMemory
{
    /// <summary>VmHWM: the peak resident set, file-backed (mapped) pages included.</summary>
    public static long PeakBytes() => Field("VmHWM:");

    public static long CurrentBytes() => Field("VmRSS:");

    /// <summary>Resident anonymous memory (private allocations, not the page cache of mapped files).</summary>
    public static long AnonymousBytes() => Field("RssAnon:");

    /// <summary>
    /// Samples RssAnon every few milliseconds until disposed and keeps the maximum: the peak of private memory, which
    /// VmHWM cannot give because it also counts the page cache of memory-mapped files.
    /// </summary>
    public sealed class PeakAnonymousSampler : IDisposable
    {
        readonly Thread thread;
        volatile bool stop;
        long peak;

        public PeakAnonymousSampler()
        {
            thread = new Thread(() =>
            {
                while (!stop)
                {
                    long v = AnonymousBytes();
                    if (v > Interlocked.Read(ref peak)) Interlocked.Exchange(ref peak, v);
                    Thread.Sleep(2);
                }
            }) { IsBackground = true };
            thread.Start();
        }

        public long PeakBytes => Math.Max(Interlocked.Read(ref peak), AnonymousBytes());

        public void Dispose()
        {
            stop = true;
            thread.Join();
        }
    }

    static long Field(string name)
    {
        if (!File.Exists("/proc/self/status")) return -1;
        foreach (var line in File.ReadLines("/proc/self/status"))
            if (line.StartsWith(name, StringComparison.Ordinal))
                return long.Parse(line[name.Length..].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture) * 1024;
        return -1;
    }
}
