namespace PeftSharp;

/// <summary>Where the library's warnings go (stderr unless a host program redirects them).</summary>
public static class Diagnostics
{
    public static Action<string> WarningHandler { get; set; } = m => Console.Error.WriteLine("warning: " + m);

    public static void Warn(string message) => WarningHandler(message);
}
