namespace PeftSharp;

/// <summary>Peak and current resident memory of this process, from /proc/self/status (Linux; -1 elsewhere).</summary>
public static class ProcessMemory
{
    /// <summary>VmHWM: the peak resident set, file-backed (mapped) pages included.</summary>
    public static long PeakBytes() => Field("VmHWM:");

    /// <summary>
    /// VmRSS: the current resident set in bytes, file-backed (mapped) pages included; -1 where /proc is not available.
    /// </summary>
    public static long CurrentBytes() => Field("VmRSS:");

    /// <summary>Resident anonymous memory (private allocations, not the page cache of mapped files).</summary>
    public static long AnonymousBytes() => Field("RssAnon:");

    static long Field(string name)
    {
        if (!File.Exists("/proc/self/status")) return -1;
        foreach (var line in File.ReadLines("/proc/self/status"))
            if (line.StartsWith(name, StringComparison.Ordinal))
                return long.Parse(line[name.Length..].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture) * 1024;
        return -1;
    }
}
