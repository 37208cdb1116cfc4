namespace PeftSharp.Data;

/// <summary>Opens any supported dataset file as a lazy sequence of records.</summary>
public static class DatasetReader
{
    /// <summary>
    /// Records of <paramref name="path"/>, read as they are enumerated; malformed ones go to <paramref name="issues"/>
    /// (which throws <see cref="InvalidFileFormatException"/> under on_error: fail). A file that cannot be read on at all
    /// (a broken JSON array, a corrupt Parquet file) throws <see cref="InvalidFileFormatException"/>.
    /// </summary>
    public static IEnumerable<Record> Read(string path, ReaderOptions options, RecordIssues issues)
    {
        if (!File.Exists(path))
            throw new ConfigurationException($"dataset file '{path}' does not exist; check the path setting");
        var type = options.FileType ?? DatasetFileTypes.FromExtension(path);
        return type switch
        {
            DatasetFileType.Jsonl => JsonlReader.Read(path, issues),
            DatasetFileType.Json => JsonArrayReader.Read(path, issues),
            DatasetFileType.Csv => DelimitedReader.Read(path, ',', options.ColumnNames, issues),
            DatasetFileType.Tsv => DelimitedReader.Read(path, '\t', options.ColumnNames, issues),
            DatasetFileType.Parquet => ParquetRecordReader.Read(path),
            DatasetFileType.Text => PlainTextReader.Read(path, options.TextSplit, options.TextField),
            _ => throw new ConfigurationException($"unsupported dataset type {type}"),
        };
    }
}
