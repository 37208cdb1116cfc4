namespace PeftSharp.Data;

/// <summary>
/// The container format of a dataset file; set with the dataset's type option, else guessed by
/// <see cref="DatasetFileTypes.FromExtension"/>.
/// </summary>
public enum DatasetFileType
{
    /// <summary>JSON Lines: one JSON object per line (.jsonl, .ndjson).</summary>
    Jsonl,
    /// <summary>One JSON array of objects (.json).</summary>
    Json,
    /// <summary>Comma-separated values with a header row, unless column_names is set (.csv).</summary>
    Csv,
    /// <summary>Tab-separated values with a header row, unless column_names is set (.tsv, .tab).</summary>
    Tsv,
    /// <summary>Apache Parquet (.parquet); string and numeric columns become record fields.</summary>
    Parquet,
    /// <summary>
    /// Plain text (.txt, .text, .md), split into records per <see cref="TextSplit"/>; each record has one field, the
    /// text field.
    /// </summary>
    Text,
}

/// <summary>How a plain-text file becomes records.</summary>
public enum TextSplit
{
    /// <summary>The whole file is one record.</summary>
    Whole,
    /// <summary>Each non-empty line is a record.</summary>
    Line,
    /// <summary>Each run of lines separated by blank lines is a record.</summary>
    Paragraph,
}

/// <summary>Names and file extensions of <see cref="DatasetFileType"/>.</summary>
public static class DatasetFileTypes
{
    /// <summary>The accepted type names, for error messages.</summary>
    public const string Names = "jsonl, json, csv, tsv, parquet, text";

    /// <summary>The type from the file extension (.jsonl/.ndjson, .json, .csv, .tsv/.tab, .parquet, .txt/.md).</summary>
    public static DatasetFileType FromExtension(string path)
    {
        string ext = Path.GetExtension(path).ToLowerInvariant();
        return ext switch
        {
            ".jsonl" or ".ndjson" => DatasetFileType.Jsonl,
            ".json" => DatasetFileType.Json,
            ".csv" => DatasetFileType.Csv,
            ".tsv" or ".tab" => DatasetFileType.Tsv,
            ".parquet" => DatasetFileType.Parquet,
            ".txt" or ".text" or ".md" => DatasetFileType.Text,
            _ => throw new ConfigurationException(
                $"{path}: cannot tell the dataset type from the extension '{ext}'; set type to one of: {Names}"),
        };
    }

    /// <summary>Parses a type name (case-insensitive; ndjson and txt are accepted as aliases).</summary>
    /// <exception cref="ConfigurationException">The name is unknown; the message lists the accepted ones.</exception>
    public static DatasetFileType Parse(string name) => name.ToLowerInvariant() switch
    {
        "jsonl" or "ndjson" => DatasetFileType.Jsonl,
        "json" => DatasetFileType.Json,
        "csv" => DatasetFileType.Csv,
        "tsv" => DatasetFileType.Tsv,
        "parquet" => DatasetFileType.Parquet,
        "text" or "txt" => DatasetFileType.Text,
        _ => throw new ConfigurationException($"unknown dataset type '{name}'; expected one of: {Names}"),
    };
}
