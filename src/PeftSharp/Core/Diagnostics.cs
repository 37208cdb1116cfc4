namespace PeftSharp;

/// <summary>
/// Where the library's warnings and notes go: stderr unless a host program sets the handlers, or a caller redirects
/// them for its own flow of execution (<see cref="RedirectWarnings"/>: parallel callers each keep theirs).
/// </summary>
public static class Diagnostics
{
    static readonly AsyncLocal<Action<string>?> scopedWarnings = new();
    static readonly AsyncLocal<Action<string>?> scopedInfo = new();

    public static Action<string> WarningHandler { get; set; } = m => Console.Error.WriteLine("warning: " + m);

    /// <summary>Where notes worth a line in the log go (e.g. SoRA's surviving ranks on save): stderr unless redirected.</summary>
    public static Action<string> InfoHandler { get; set; } = m => Console.Error.WriteLine(m);

    public static void Warn(string message) => (scopedWarnings.Value ?? WarningHandler)(message);

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
