namespace PeftSharp;

/// <summary>Base of every error PeftSharp raises for bad input: the message names the problem and the fix.</summary>
public class PeftSharpException : Exception
{
    /// <summary>Creates the error with a message that names the problem and, where there is one, the fix.</summary>
    public PeftSharpException(string message) : base(message) { }
    /// <summary>
    /// Creates the error with a message that names the problem, keeping the lower-level exception that revealed it.
    /// </summary>
    public PeftSharpException(string message, Exception inner) : base(message, inner) { }
}

/// <summary>A file is malformed, truncated or not what its extension says.</summary>
public class InvalidFileFormatException : PeftSharpException
{
    /// <summary>The file at fault, as the caller named it (also the start of the message).</summary>
    public string Path { get; }
    /// <summary>Creates the error; the message reads "<paramref name="path"/>: <paramref name="problem"/>".</summary>
    public InvalidFileFormatException(string path, string problem)
        : base($"{path}: {problem}") => Path = path;
    /// <summary>
    /// Creates the error, keeping the lower-level exception (e.g. a JsonException) that revealed the problem; the
    /// message reads "<paramref name="path"/>: <paramref name="problem"/>".
    /// </summary>
    public InvalidFileFormatException(string path, string problem, Exception inner)
        : base($"{path}: {problem}", inner) => Path = path;
}

/// <summary>A configuration value or argument is missing or invalid.</summary>
public class ConfigurationException : PeftSharpException
{
    /// <summary>
    /// Creates the error with a message that names the setting, the value found and what is accepted.
    /// </summary>
    public ConfigurationException(string message) : base(message) { }
}

/// <summary>
/// Downloading from the Hugging Face Hub failed: access refused, repo/revision/file not found, network or disk
/// trouble, or a file that arrived corrupted. The message names the problem and the fix.
/// </summary>
public class HubException : PeftSharpException
{
    /// <summary>The HTTP status the Hub answered with, when the failure was an HTTP error.</summary>
    public int? StatusCode { get; }
    /// <summary>Creates the error with a message that names the problem and the fix.</summary>
    public HubException(string message, int? statusCode = null) : base(message) => StatusCode = statusCode;
    /// <summary>Creates the error, keeping the lower-level exception (network or disk) that revealed it.</summary>
    public HubException(string message, Exception inner) : base(message, inner) { }
}
