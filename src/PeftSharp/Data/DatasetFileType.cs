namespace PeftSharp.Data;

public enum DatasetFileType
{
    Jsonl,
    Json,
    Csv,
    Tsv,
    Parquet,
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

public static class DatasetFileTypes
{
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
