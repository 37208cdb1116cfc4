namespace PeftSharp.Bench;

/// <summary>Memory sampling for benchmarks (the readings themselves are PeftSharp.ProcessMemory).</summary>
public static class ProcessMemorySampling
{
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
                    long v = PeftSharp.ProcessMemory.AnonymousBytes();
                    if (v > Interlocked.Read(ref peak)) Interlocked.Exchange(ref peak, v);
                    Thread.Sleep(2);
                }
            }) { IsBackground = true };
            thread.Start();
        }

        public long PeakBytes => Math.Max(Interlocked.Read(ref peak), PeftSharp.ProcessMemory.AnonymousBytes());

        public void Dispose()
        {
            stop = true;
            thread.Join();
        }
    }
}
