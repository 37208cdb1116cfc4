namespace PeftSharp;

/// <summary>Where the library's warnings go (stderr unless a host program redirects them).</summary>
public static class Diagnostics
{
    public static Action<string> WarningHandler { get; set; } = m => Console.Error.WriteLine("warning: " + m);

    public static void Warn(string message) => WarningHandler(message);

    /// <summary>Where notes worth a line in the log go (e.g. SoRA's surviving ranks on save): stderr unless redirected.</summary>
    public static Action<string> InfoHandler { get; set; } = m => Console.Error.WriteLine(m);

    public static void Info(string message) => InfoHandler(message);
}
