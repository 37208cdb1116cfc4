using System.CommandLine;
using PeftSharp.Data;

namespace PeftSharp.Cli.Commands;

/// <summary>The data options of `eval --task classification` and `predict`: which columns hold the text and the label.</summary>
internal sealed class ClassificationOptions
{
    readonly Option<string> textField = new("--text-field") { Description = "Column/field holding the text", DefaultValueFactory = _ => "text" };
    readonly Option<string> labelField = new("--label-field") { Description = "Column/field holding the label (a name or an id)", DefaultValueFactory = _ => "label" };
    readonly Option<string[]> columnNames = new("--column-names") { Description = "CSV/TSV without a header row: the column names in order (e.g. --column-names text label)", AllowMultipleArgumentsPerToken = true };
    readonly Option<int> maxLength = new("--max-seq-length") { Description = "Tokens per text (longer texts are truncated)", DefaultValueFactory = _ => 512 };
    readonly Option<int> batchSize = new("--batch-size") { Description = "Texts per forward pass", DefaultValueFactory = _ => 32 };

    /// <param name="withBatchSize">False where the command has its own --batch-size (eval).</param>
    public ClassificationOptions AddTo(Command command, bool withBatchSize = true)
    {
        foreach (var o in new Option[] { textField, labelField, columnNames, maxLength }) command.Options.Add(o);
        if (withBatchSize) command.Options.Add(batchSize);
        return this;
    }

    public int BatchSize(ParseResult r) => Positive(r.GetValue(batchSize), "--batch-size");

    public static int Positive(int value, string option) => value > 0 ? value : throw new ConfigurationException($"{option} must be positive, found {value}");

    public DatasetConfig Dataset(ParseResult r, string path) => new()
    {
        Path = path,
        TextField = r.GetValue(textField)!,
        LabelField = r.GetValue(labelField)!,
        ColumnNames = r.GetValue(columnNames) is { Length: > 0 } names ? names : null,
        MaxSeqLength = Positive(r.GetValue(maxLength), "--max-seq-length"),
    };
}
