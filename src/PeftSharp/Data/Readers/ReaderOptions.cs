namespace PeftSharp.Data;

/// <summary>How to read one dataset file.</summary>
public sealed record ReaderOptions
{
    /// <summary>Null: from the extension.</summary>
    public DatasetFileType? FileType { get; init; }
    /// <summary>
    /// How a plain-text file becomes records; default <see cref="TextSplit.Whole"/>. Ignored for other file types.
    /// </summary>
    public TextSplit TextSplit { get; init; } = TextSplit.Whole;
    /// <summary>The field a plain-text record's text goes into.</summary>
    public string TextField { get; init; } = "text";
    /// <summary>CSV/TSV without a header row: the names of the columns, in order. Null: the first row is the header.</summary>
    public IReadOnlyList<string>? ColumnNames { get; init; }
}
