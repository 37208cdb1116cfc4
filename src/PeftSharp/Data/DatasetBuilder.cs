using PeftSharp.Tokenization;

namespace PeftSharp.Data;

/// <summary>Reads, formats and tokenizes the configured dataset(s): config + tokenizer in, token examples and stats out.</summary>
public static class DatasetBuilder
{
    /// <summary>
    /// Builds the train and eval examples: the configured path, and eval_path when set, else a seeded eval_split of the
    /// training file (<see cref="DatasetSplitter.Split{T}"/>).
    /// </summary>
    /// <param name="config">The dataset entry (path, format, field names, template, max_seq_length, ...).</param>
    /// <param name="tokenizer">The model's tokenizer.</param>
    /// <returns>Examples and <see cref="DatasetStats"/> per split; Eval is empty when no eval data is configured.</returns>
    /// <exception cref="ConfigurationException">The path is not set, a setting is invalid, or a file has no usable example.</exception>
    public static DatasetBuildResult Build(DatasetConfig config, ITextTokenizer tokenizer)
    {
        if (string.IsNullOrWhiteSpace(config.Path)) throw new ConfigurationException("dataset path is not set");
        var (all, stats) = BuildFile(config.Path, config, tokenizer);
        if (config.EvalPath is { Length: > 0 } evalPath)
        {
            var (eval, evalStats) = BuildFile(evalPath, config, tokenizer);
            return new DatasetBuildResult(all, eval, stats, evalStats);
        }
        var (train, held) = DatasetSplitter.Split(all, config.EvalSplit, config.Seed);
        return new DatasetBuildResult(train, held, stats, null);
    }

    /// <summary>One file's examples; a ConfigurationException naming the file when nothing usable is left.</summary>
    public static (IReadOnlyList<TokenizedExample> Examples, DatasetStats Stats) BuildFile(string path, DatasetConfig config, ITextTokenizer tokenizer)
    {
        var issues = new RecordIssues(config.ParseOnError());
        var names = config.FieldNames;
        var requested = DataFormats.Parse(config.Format);
        var template = config.ChatTemplate is { Length: > 0 } t ? ChatTemplate.Parse(t) : null;
        RecordFormatter? formatter = null;
        DataFormat format = requested;
        SftTokenizer? sft = null;

        var store = config.Streaming ? new DiskTokenStore() : null;
        var list = store is null ? new List<TokenizedExample>() : null;
        long read = 0, dropped = 0, tokens = 0, trainable = 0;
        foreach (var record in DatasetReader.Read(path, config.ReaderOptions(path), issues))
        {
            read++;
            if (formatter is null)
            {
                format = requested == DataFormat.Auto ? FormatDetector.Detect(record, names) : requested;
                formatter = new RecordFormatter(format, names, template);
                // Raw text is language-model data: every token is trained.
                sft = new SftTokenizer(tokenizer, new SftTokenizerOptions
                {
                    MaxSeqLength = config.MaxSeqLength,
                    AddEos = config.AddEos,
                    TrainOnInputs = config.TrainOnInputs || format == DataFormat.Text,
                });
            }
            IReadOnlyList<IReadOnlyList<Segment>> formatted;
            try { formatted = formatter.Format(record); }
            catch (RecordFormatException e)
            {
                issues.Report(record.Source, record.Line, e.Reason, e.Detail, $"fix the record or the {format.ToString().ToLowerInvariant()} field names in the config");
                continue;
            }
            foreach (var segments in formatted)
            {
                var ex = sft!.Tokenize(segments);
                if (ex is null) { dropped++; continue; }
                if (store is not null) store.Add(ex);
                else list!.Add(ex);
                tokens += ex.Length;
                trainable += ex.TrainableTokens;
            }
        }
        issues.WarnIfAny();
        if (dropped > 0)
            Diagnostics.Warn($"{path}: dropped {dropped} example(s) with no trainable token left after truncation to max_seq_length {config.MaxSeqLength}");
        store?.Seal();
        IReadOnlyList<TokenizedExample> examples = (IReadOnlyList<TokenizedExample>?)store ?? list!;
        if (examples.Count == 0)
            throw new ConfigurationException(
                $"dataset '{path}' has no usable examples ({read} records read, {issues.Count} skipped, {dropped} dropped after truncation to max_seq_length {config.MaxSeqLength}); " +
                "check the file, the format and field names, or raise max_seq_length");
        var stats = new DatasetStats(read, issues.Count, new Dictionary<string, int>(issues.ByReason), dropped, examples.Count, tokens, trainable);
        return (examples, stats);
    }
}
