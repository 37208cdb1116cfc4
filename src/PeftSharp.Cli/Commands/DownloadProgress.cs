using System.Diagnostics;
using System.Globalization;
using PeftSharp.IO.HuggingFace;

namespace PeftSharp.Cli.Commands;

/// <summary>
/// Shows a Hub download on stderr: on a terminal, a live bar per file (bytes, percent, rate) redrawn in place at most
/// ten times a second; redirected, one plain line per file when it is done, so logs stay readable.
/// </summary>
internal sealed class DownloadProgress
{
    readonly TextWriter stderr;
    readonly bool live;
    readonly Stopwatch clock = Stopwatch.StartNew();
    TimeSpan fileStart, lastDraw;
    long startBytes;

    DownloadProgress(TextWriter stderr)
    {
        this.stderr = stderr;
        live = ReferenceEquals(stderr, Console.Error) && !Console.IsErrorRedirected;
    }

    /// <summary>The progress callback for downloads made by this command, writing to <paramref name="stderr"/>.</summary>
    public static Action<HubFileProgress> To(TextWriter stderr) => new DownloadProgress(stderr).Report;

    /// <summary>The environment's Hub settings, reporting download progress on the command's stderr.</summary>
    public static HubOptions Options(System.CommandLine.ParseResult r) =>
        HubOptions.FromEnvironment() with { Progress = To(r.InvocationConfiguration.Error) };

    void Report(HubFileProgress p)
    {
        var now = clock.Elapsed;
        switch (p.Event)
        {
            case HubFileEvent.Cached:
                stderr.WriteLine($"{p.File}: {Size(p.BytesDone)}, in the cache");
                break;
            case HubFileEvent.Started:
                (fileStart, startBytes, lastDraw) = (now, p.BytesDone, TimeSpan.Zero);
                if (live) Draw(p, now);
                break;
            case HubFileEvent.Advanced when live && now - lastDraw >= TimeSpan.FromMilliseconds(100):
                Draw(p, now);
                break;
            case HubFileEvent.Completed:
                var resumed = startBytes > 0 ? $", resumed at {Size(startBytes)}" : "";
                // On a terminal the line replaces the bar (\r, then erase to the end of the line).
                var (start, end) = live ? ("\r", "\u001b[K") : ("", "");
                stderr.WriteLine($"{start}{p.File}: {Size(p.BytesDone)} downloaded at {Rate(p.BytesDone - startBytes, now - fileStart)}{resumed}{end}");
                break;
        }
    }

    void Draw(HubFileProgress p, TimeSpan now)
    {
        lastDraw = now;
        const int width = 24;
        var bar = p.BytesTotal is > 0 and var t ? new string('#', (int)(width * p.BytesDone / t)).PadRight(width, '-') : new string('?', width);
        var of = p.BytesTotal is { } total ? $" / {Size(total)}" : "";
        stderr.Write($"\r{p.File} [{bar}] {Size(p.BytesDone)}{of}  {Rate(p.BytesDone - startBytes, now - fileStart)}\u001b[K");
        stderr.Flush();
    }

    static string Rate(long bytes, TimeSpan elapsed) => Size((long)(bytes / Math.Max(elapsed.TotalSeconds, 1e-3))) + "/s";

    static string Size(long bytes) => bytes switch
    {
        >= 1L << 30 => string.Create(CultureInfo.InvariantCulture, $"{bytes / (double)(1L << 30):F2} GiB"),
        >= 1L << 20 => string.Create(CultureInfo.InvariantCulture, $"{bytes / (double)(1L << 20):F1} MiB"),
        >= 1L << 10 => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1024.0:F1} KiB"),
        _ => $"{bytes} B",
    };
}
