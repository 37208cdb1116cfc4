namespace PeftSharp;

/// <summary>Base of every error PeftSharp raises for bad input: the message names the problem and the fix.</summary>
public class PeftSharpException : Exception
{
    public PeftSharpException(string message) : base(message) { }
    public PeftSharpException(string message, Exception inner) : base(message, inner) { }
}

/// <summary>A file is malformed, truncated or not what its extension says.</summary>
public class InvalidFileFormatException : PeftSharpException
{
    public string Path { get; }
    public InvalidFileFormatException(string path, string problem)
        : base($"{path}: {problem}") => Path = path;
    public InvalidFileFormatException(string path, string problem, Exception inner)
        : base($"{path}: {problem}", inner) => Path = path;
}

/// <summary>A configuration value or argument is missing or invalid.</summary>
public class ConfigurationException : PeftSharpException
{
    public ConfigurationException(string message) : base(message) { }
}
