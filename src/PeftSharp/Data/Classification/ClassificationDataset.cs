using System.Text.Json;
using PeftSharp.Tokenization;

namespace PeftSharp.Data.Classification;

/// <summary>One text as token ids, and its label id (-1 when the file has no labels, as for prediction).</summary>
public sealed record ClassificationExample(int[] InputIds, int Label);

/// <summary>Tokenized train/eval examples, the label map they use, and what reading them skipped.</summary>
public sealed record ClassificationData(IReadOnlyList<ClassificationExample> Train, IReadOnlyList<ClassificationExample> Eval, LabelMap Labels,
    long RecordsRead, int RecordsSkipped, int Truncated);

/// <summary>
/// Text classification data: a text column and a label column from CSV/TSV/JSONL/JSON/Parquet. Texts are tokenized
/// with the model's tokenizer (BOS as the tokenizer adds it) and truncated to max_seq_length.
/// </summary>
public static class ClassificationDataset
{
    /// <summary>
    /// Reads, labels and tokenizes the configured file (and eval_path, or a seeded eval_split of it). Labels come from
    /// <paramref name="labels"/> when given (a config's or a trained model's), else from the training file's values.
    /// </summary>
    public static ClassificationData Build(DatasetConfig config, ITextTokenizer tokenizer, LabelMap? labels = null)
    {
        if (string.IsNullOrWhiteSpace(config.Path)) throw new ConfigurationException("dataset path is not set");
        var issues = new RecordIssues(config.ParseOnError());
        var rows = ReadRows(config.Path, config, issues, requireLabels: true).ToList();
        var evalRows = config.EvalPath is { Length: > 0 } ep ? ReadRows(ep, config, issues, requireLabels: true).ToList() : null;
        issues.WarnIfAny();
        if (rows.Count == 0)
            throw new ConfigurationException($"dataset '{config.Path}' has no usable rows ({issues.Count} skipped): check the file and the text_field / label_field names");
        labels ??= LabelMap.FromValues(rows.Select(r => r.Label!));
        int truncated = 0;
        var all = Tokenize(rows, config, tokenizer, labels, issues, ref truncated);
        IReadOnlyList<ClassificationExample> train = all, eval = [];
        if (evalRows is not null) eval = Tokenize(evalRows, config, tokenizer, labels, issues, ref truncated);
        else (train, eval) = DatasetSplitter.Split(all, config.EvalSplit, config.Seed);
        if (truncated > 0) Diagnostics.Info($"{config.Path}: {truncated} text(s) truncated to max_seq_length {config.MaxSeqLength} tokens");
        return new ClassificationData(train, eval, labels, rows.Count + (evalRows?.Count ?? 0) + issues.Count, issues.Count, truncated);
    }

    /// <summary>Texts of a file to classify (labels read when present, for scoring; -1 otherwise).</summary>
    public static IReadOnlyList<(string Text, ClassificationExample Example)> ForPrediction(DatasetConfig config, ITextTokenizer tokenizer, LabelMap labels)
    {
        var issues = new RecordIssues(config.ParseOnError());
        var rows = ReadRows(config.Path, config, issues, requireLabels: false).ToList();
        issues.WarnIfAny();
        if (rows.Count == 0) throw new ConfigurationException($"'{config.Path}' has no texts in column '{config.TextField}': check the file and --text-field");
        int truncated = 0;
        var examples = Tokenize(rows, config, tokenizer, labels, issues, ref truncated);
        return rows.Zip(examples, (r, e) => (r.Text, e)).ToList();
    }

    /// <summary>
    /// The checks that need no tokenizer or model, made first: the files exist and are not empty, the text and label
    /// columns are there, and with labels known up front (a config's labels) every label value is one of them.
    /// </summary>
    public static void Preflight(DatasetConfig config, LabelMap? labels, string where)
    {
        DatasetPreflight.CheckFiles(config, where);
        foreach (var path in new[] { config.Path, config.EvalPath }.OfType<string>().Where(p => p.Length > 0))
        {
            bool first = true;
            foreach (var record in DatasetReader.Read(path, config.ReaderOptions(path), new RecordIssues(config.ParseOnError())))
            {
                if (first)
                {
                    foreach (var (key, name, holds) in new[] { ("text_field", config.TextField, "texts"), ("label_field", config.LabelField, "labels") })
                        if (!record.Fields.ContainsKey(name))
                            throw new ConfigurationException(
                                $"{key} '{name}' is not a field of '{path}' ({where}): set {key} to the column that holds the {holds}; the fields it has: {string.Join(", ", record.Fields.Keys)}");
                    first = false;
                }
                if (labels is null) break;
                if (Field(record, config.LabelField) is { } label && labels.TryId(label) is null)
                    throw new ConfigurationException(
                        $"{record.Location}: label '{label}' is not in labels ({string.Join(", ", labels.Names)}): add it to labels, or fix the row");
            }
        }
    }

    sealed record Row(string Text, string? Label, string Source, long Line);

    static IEnumerable<Row> ReadRows(string path, DatasetConfig config, RecordIssues issues, bool requireLabels)
    {
        foreach (var record in DatasetReader.Read(path, config.ReaderOptions(path), issues))
        {
            var text = Field(record, config.TextField);
            var label = Field(record, config.LabelField);
            if (text is null)
            {
                issues.Report(record.Source, record.Line, "missing text", $"no '{config.TextField}' value (fields: {string.Join(", ", record.Fields.Keys)})", "set text_field to the column that holds the text");
                continue;
            }
            if (label is null && requireLabels)
            {
                issues.Report(record.Source, record.Line, "missing label", $"no '{config.LabelField}' value (fields: {string.Join(", ", record.Fields.Keys)})", "set label_field to the column that holds the label, or fix the row");
                continue;
            }
            yield return new Row(text, label, record.Source, record.Line);
        }
    }

    /// <summary>A field as text: strings as they are, numbers by their JSON spelling (0, 1, ...).</summary>
    static string? Field(Record record, string name)
    {
        if (!record.TryGet(name, out var v)) return null;
        var s = v.ValueKind switch
        {
            JsonValueKind.String => v.GetString(),
            JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False => v.GetRawText(),
            _ => null,
        };
        return string.IsNullOrWhiteSpace(s) ? null : s.Trim();
    }

    static List<ClassificationExample> Tokenize(List<Row> rows, DatasetConfig config, ITextTokenizer tokenizer, LabelMap labels, RecordIssues issues, ref int truncated)
    {
        var examples = new List<ClassificationExample>(rows.Count);
        var unknown = new List<Row>();
        foreach (var row in rows)
        {
            int id = -1;
            if (row.Label is not null)
            {
                if (labels.TryId(row.Label) is not { } known)
                {
                    unknown.Add(row);
                    continue;
                }
                id = known;
            }
            var ids = tokenizer.Encode(row.Text, addSpecialTokens: true);
            if (ids.Count > config.MaxSeqLength) truncated++;
            examples.Add(new ClassificationExample(ids.Take(config.MaxSeqLength).ToArray(), id));
        }
        if (unknown.Count > 0)
            throw new ConfigurationException(
                $"{unknown[0].Source}:{unknown[0].Line}: label '{unknown[0].Label}' is not one of the model's labels ({string.Join(", ", labels.Names)}); " +
                $"{unknown.Count} row(s) have unknown labels: use the labels the model was trained with, or set labels in the config");
        return examples;
    }
}
