namespace PeftSharp;

/// <summary>
/// Named places in the write paths where the crash-safety tests kill the process. Set
/// <c>PEFTSHARP_FAULT=name:n</c> (several separated by commas) and the n-th time this process reaches that place it
/// kills itself with SIGKILL, exactly as an out-of-memory killer or a power cut would stop it: no finally blocks, no
/// flushing. <c>name:n:hang</c> instead stops the calling thread forever, as a stuck process would (the
/// data-parallel watchdog tests use it). Unset (always, outside tests), a hit costs one dictionary lookup on an empty
/// table.
/// </summary>
public static class FaultPoint
{
    /// <summary>
    /// Name of the environment variable (<c>PEFTSHARP_FAULT</c>) that arms fault points, as <c>name[:n]</c> items
    /// separated by commas; n defaults to 1 (kill on the first hit); <c>name:n:hang</c> hangs instead of killing.
    /// </summary>
    public const string Variable = "PEFTSHARP_FAULT";
    static readonly Lazy<Dictionary<string, (int Left, bool Hang)>> Remaining = new(() => Parse(Environment.GetEnvironmentVariable(Variable)));
    static readonly object Gate = new();

    /// <summary>The places: a test names them in <see cref="Variable"/>.</summary>
    public static readonly IReadOnlyList<string> Names = new[]
    {
        "step",                // after an optimizer step, before its metrics are logged
        "checkpoint-write",    // inside a checkpoint's temp folder, after the weights, before the optimizer state
        "folder-commit",       // a complete temp folder, just before it is renamed into place
        "checkpoint-pointer",  // a checkpoint renamed into place, before the "latest" pointer names it
        "atomic-file-rename",  // a temp file flushed, before it is renamed over its target
        "final-save",          // the final adapter's weights written, its config and tokenizer files not yet
    };

    /// <summary>
    /// Marks that this process reached the place <paramref name="name"/>; when it is armed and this is its n-th hit,
    /// kills the process at once (SIGKILL, no cleanup). Unarmed, it returns immediately.
    /// </summary>
    /// <param name="name">One of <see cref="Names"/>.</param>
    /// <exception cref="ConfigurationException">The <see cref="Variable"/> environment variable is malformed or names
    /// an unknown place (raised on the first hit).</exception>
    public static void Hit(string name)
    {
        var remaining = Remaining.Value;
        if (remaining.Count == 0) return;
        bool hang;
        lock (Gate)
        {
            if (!remaining.TryGetValue(name, out var armed)) return;
            remaining[name] = (--armed.Left, armed.Hang);
            if (armed.Left > 0) return;
            hang = armed.Hang;
        }
        if (hang) Diagnostics.Warn($"fault point {name}: hanging ({Variable})");
        else System.Diagnostics.Process.GetCurrentProcess().Kill(); // SIGKILL on Unix
        Thread.Sleep(Timeout.Infinite);
    }

    static Dictionary<string, (int Left, bool Hang)> Parse(string? spec)
    {
        var result = new Dictionary<string, (int, bool)>();
        if (string.IsNullOrWhiteSpace(spec)) return result;
        foreach (var part in spec.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var bits = part.Split(':');
            if (!Names.Contains(bits[0]) || bits.Length > 3 || (bits.Length >= 2 && !int.TryParse(bits[1], out _)) || (bits.Length == 3 && bits[2] != "hang"))
                throw new ConfigurationException($"{Variable}='{spec}': expected name[:count[:hang]] with a name among {string.Join(", ", Names)}");
            result[bits[0]] = (bits.Length >= 2 ? Math.Max(1, int.Parse(bits[1])) : 1, bits.Length == 3);
        }
        return result;
    }
}
