namespace PeftSharp;

/// <summary>
/// Where the library's warnings and notes go: stderr unless a host program sets the handlers, or a caller redirects
/// them for its own flow of execution (<see cref="RedirectWarnings"/>: parallel callers each keep theirs).
/// </summary>
public static class Diagnostics
{
    static readonly AsyncLocal<Action<string>?> scopedWarnings = new();
    static readonly AsyncLocal<Action<string>?> scopedInfo = new();

    /// <summary>
    /// Process-wide sink for warnings (a config field PeftSharp ignores, a fallback taken, a lossy conversion): by
    /// default writes "warning: message" to stderr. A host (the CLI, a test) may replace it; a redirect made with
    /// </summary>
    /// <see cref="RedirectWarnings"/> takes precedence for its own call chain.
    public static Action<string> WarningHandler { get; set; } = m => Console.Error.WriteLine("warning: " + m);

    /// <summary>Where notes worth a line in the log go (e.g. SoRA's surviving ranks on save): stderr unless redirected.</summary>
    public static Action<string> InfoHandler { get; set; } = m => Console.Error.WriteLine(m);

    /// <summary>
    /// Reports a warning to the redirect active for this call chain, else to <see cref="WarningHandler"/>. Never throws
    /// on its own account; use it for problems that do not stop the work.
    /// </summary>
    /// <param name="message">One line, without the "warning:" prefix (the default handler adds it).</param>
    public static void Warn(string message) => (scopedWarnings.Value ?? WarningHandler)(message);

    /// <summary>
    /// Reports an informational note to the redirect active for this call chain, else to <see cref="InfoHandler"/>.
    /// </summary>
    /// <param name="message">One line of text, written as given.</param>
    public static void Info(string message) => (scopedInfo.Value ?? InfoHandler)(message);

    /// <summary>Sends warnings raised by this call chain (not other threads' work) to <paramref name="handler"/> until disposed.</summary>
    public static IDisposable RedirectWarnings(Action<string> handler) => Redirect(scopedWarnings, handler);

    /// <summary>Sends notes raised by this call chain to <paramref name="handler"/> until disposed.</summary>
    public static IDisposable RedirectInfo(Action<string> handler) => Redirect(scopedInfo, handler);

    static IDisposable Redirect(AsyncLocal<Action<string>?> slot, Action<string> handler)
    {
        var previous = slot.Value;
        slot.Value = handler;
        return new Restore(() => slot.Value = previous);
    }

    sealed class Restore(Action undo) : IDisposable
    {
        public void Dispose() => undo();
    }
}
