namespace PeftSharp.Data;

/// <summary>
/// Cheap checks of a configured dataset, made before a model is loaded or a text tokenized: the files exist and hold
/// something, and the first records fit the format with the configured field names. A wrong path or field name then
/// fails in milliseconds, not after the model load.
/// </summary>
public static class DatasetPreflight
{
    /// <summary>Records looked at: the format check fails only when none of them fits (a few bad rows are on_error's business).</summary>
    public const int SampleRecords = 100;

    /// <summary>path (and eval_path) exist, are files and are not empty; <paramref name="where"/> names the config entry.</summary>
    public static void CheckFiles(DatasetConfig config, string where)
    {
        CheckFile(config.Path, where + ".path");
        if (config.EvalPath is { Length: > 0 } eval) CheckFile(eval, where + ".eval_path");
    }

    /// <summary>Checks that one data file exists, is a file (not a folder) and is not empty.</summary>
    /// <param name="path">The file.</param>
    /// <param name="key">The config key it came from (e.g. "datasets[0].path"), named in the message.</param>
    /// <exception cref="ConfigurationException">The path is a folder, is missing, or is empty.</exception>
    public static void CheckFile(string path, string key)
    {
        if (Directory.Exists(path))
            throw new ConfigurationException($"dataset path '{path}' ({key}) is a folder: give a data file (jsonl, json, csv, tsv, parquet or txt)");
        if (!File.Exists(path))
            throw new ConfigurationException($"dataset file '{path}' ({key}) not found: fix the path (a relative path is looked up from the current folder, then from the config file's folder)");
        // A symlink's own FileInfo.Length is the link's size: ask the file it points at (HF snapshots are links).
        var info = new FileInfo(path);
        if ((info.ResolveLinkTarget(returnFinalTarget: true) as FileInfo ?? info).Length == 0)
            throw new ConfigurationException($"dataset file '{path}' ({key}) is empty: give a file with at least one record");
    }

    /// <summary>SFT data: the files, then the first records of each against the format (detected when auto) and field names.</summary>
    public static void CheckFormat(DatasetConfig config, string where)
    {
        CheckFiles(config, where);
        var requested = DataFormats.Parse(config.Format);
        var template = config.ChatTemplate is { Length: > 0 } t ? ChatTemplate.Parse(t) : null;
        foreach (var path in new[] { config.Path, config.EvalPath }.OfType<string>().Where(p => p.Length > 0))
        {
            // Plain text becomes records of the text field itself: nothing to check for text data.
            if ((config.Type is null ? DatasetFileTypes.FromExtension(path) : DatasetFileTypes.Parse(config.Type)) == DatasetFileType.Text
                && requested is DataFormat.Text or DataFormat.Auto) continue;
            CheckRecords(path, config, requested, template, where);
        }
    }

    static void CheckRecords(string path, DatasetConfig config, DataFormat requested, ChatTemplate? template, string where)
    {
        var names = config.FieldNames;
        var issues = new RecordIssues(config.ParseOnError());
        (Record Record, DataFormat Format, RecordFormatException Error)? first = null;
        foreach (var record in DatasetReader.Read(path, config.ReaderOptions(path), issues).Take(SampleRecords))
        {
            var format = requested == DataFormat.Auto ? FormatDetector.Detect(record, names) : requested;
            try
            {
                new RecordFormatter(format, names, template).Format(record);
                return;
            }
            catch (RecordFormatException e)
            {
                first ??= (record, format, e);
            }
        }
        if (first is not { } f)
            throw new ConfigurationException(
                $"dataset '{path}' ({where}) has no readable record in its first {SampleRecords} ({issues.Count} malformed{(issues.FirstLocations.Count > 0 ? ", first: " + issues.FirstLocations[0] : "")}): check the file and its type");
        throw new ConfigurationException(
            $"dataset '{path}' ({where}) does not fit format {f.Format.ToString().ToLowerInvariant()}: {f.Error.Reason} at line {f.Record.Line} ({f.Error.Detail}); " +
            $"set format and the *_field options to the file's own: the fields it has: {string.Join(", ", f.Record.Fields.Keys)}");
    }
}
