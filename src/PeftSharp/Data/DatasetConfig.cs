using System.Text.Json;
using System.Text.Json.Serialization;

namespace PeftSharp.Data;

/// <summary>
/// A dataset as configured in YAML/JSON (snake_case names, as axolotl/TRL users write them). Strings are parsed
/// when the dataset is built, so errors name the option and the accepted values.
/// </summary>
public sealed record DatasetConfig
{
    /// <summary>
    /// The data file (yaml key path); required. A relative path is resolved by the caller (current folder, then the
    /// config file's folder).
    /// </summary>
    [JsonPropertyName("path")] public string Path { get; init; } = "";
    /// <summary>jsonl | json | csv | tsv | parquet | text; null: from the extension.</summary>
    [JsonPropertyName("type")] public string? Type { get; init; }
    /// <summary>text | alpaca | messages | prompt_completion | auto.</summary>
    [JsonPropertyName("format")] public string Format { get; init; } = "auto";
    /// <summary>
    /// Field holding the text for the text format, and for classification data (text_field); default "text". Like TRL's
    /// dataset_text_field.
    /// </summary>
    [JsonPropertyName("text_field")] public string TextField { get; init; } = "text";
    /// <summary>Classification data: the column holding each text's label (a name, or an integer id).</summary>
    [JsonPropertyName("label_field")] public string LabelField { get; init; } = "label";
    /// <summary>Speech data (an ASR manifest): the field holding each row's WAV path, relative to the manifest.</summary>
    [JsonPropertyName("audio_field")] public string AudioField { get; init; } = "audio";
    /// <summary>Alpaca format: the instruction field (instruction_field); default "instruction".</summary>
    [JsonPropertyName("instruction_field")] public string InstructionField { get; init; } = "instruction";
    /// <summary>Alpaca format: the optional input (context) field (input_field); default "input".</summary>
    [JsonPropertyName("input_field")] public string InputField { get; init; } = "input";
    /// <summary>Alpaca format: the response field, the trained part (output_field); default "output".</summary>
    [JsonPropertyName("output_field")] public string OutputField { get; init; } = "output";
    /// <summary>
    /// Alpaca format: an optional per-record system prompt, used when a chat template renders the record
    /// (system_field); default "system".
    /// </summary>
    [JsonPropertyName("system_field")] public string SystemField { get; init; } = "system";
    /// <summary>
    /// Messages format: the list of {role, content} turns (messages_field); default "messages". ShareGPT's
    /// "conversations" is also recognized.
    /// </summary>
    [JsonPropertyName("messages_field")] public string MessagesField { get; init; } = "messages";
    /// <summary>Prompt/completion format: the prompt, not trained (prompt_field); default "prompt".</summary>
    [JsonPropertyName("prompt_field")] public string PromptField { get; init; } = "prompt";
    /// <summary>
    /// Prompt/completion format: the completion, the trained part (completion_field); default "completion".
    /// </summary>
    [JsonPropertyName("completion_field")] public string CompletionField { get; init; } = "completion";
    /// <summary>CSV/TSV without a header row: the column names in order.</summary>
    [JsonPropertyName("column_names")] public IReadOnlyList<string>? ColumnNames { get; init; }
    /// <summary>A template name (chatml, llama3, llama2, alpaca) or a custom format string; see <see cref="ChatTemplate.Parse"/>.</summary>
    [JsonPropertyName("chat_template")] public string? ChatTemplate { get; init; }
    /// <summary>False (default): completion-only loss for instruction and chat data; text data always trains every token.</summary>
    [JsonPropertyName("train_on_inputs")] public bool TrainOnInputs { get; init; }
    /// <summary>
    /// Maximum tokens per example (TRL max_seq_length / axolotl sequence_len); default 2048. Longer examples are
    /// truncated; with packing it is the row length.
    /// </summary>
    [JsonPropertyName("max_seq_length")] public int MaxSeqLength { get; init; } = 2048;
    /// <summary>
    /// Pack several examples into each row of max_seq_length tokens (TRL/axolotl packing / sample_packing); default
    /// false.
    /// </summary>
    [JsonPropertyName("packing")] public bool Packing { get; init; }
    /// <summary>Append the tokenizer's EOS token to each example so the model learns to stop; default true.</summary>
    [JsonPropertyName("add_eos")] public bool AddEos { get; init; } = true;
    /// <summary>Fraction of the examples held out for evaluation (0: none), when no eval_path is given.</summary>
    [JsonPropertyName("eval_split")] public double EvalSplit { get; init; }
    /// <summary>
    /// A separate evaluation file in the same format (eval_path); when set, eval_split is not used. Null: none.
    /// </summary>
    [JsonPropertyName("eval_path")] public string? EvalPath { get; init; }
    /// <summary>Seed of the eval_split hold-out; default 42.</summary>
    [JsonPropertyName("seed")] public int Seed { get; init; } = 42;
    /// <summary>skip | fail.</summary>
    [JsonPropertyName("on_error")] public string OnError { get; init; } = "skip";
    /// <summary>Plain text: whole | line | paragraph.</summary>
    [JsonPropertyName("text_split")] public string TextSplit { get; init; } = "whole";
    /// <summary>Keep tokenized examples in a temporary file rather than in memory (for datasets larger than RAM).</summary>
    [JsonPropertyName("streaming")] public bool Streaming { get; init; }

    static readonly JsonSerializerOptions JsonOptions = new()
    {
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
    };

    /// <summary>
    /// Parses a dataset entry from JSON (snake_case keys as above; comments and trailing commas allowed).
    /// </summary>
    /// <exception cref="ConfigurationException">The JSON is malformed, null, or has an unknown key.</exception>
    public static DatasetConfig FromJson(string json)
    {
        try { return JsonSerializer.Deserialize<DatasetConfig>(json, JsonOptions) ?? throw new ConfigurationException("dataset config is null"); }
        catch (JsonException e) { throw new ConfigurationException($"dataset config: {e.Message}"); }
    }

    /// <summary>
    /// Checks every setting that needs no file: numbers in range and names parsed (format, chat_template, type,
    /// on_error, text_split). <paramref name="where"/> (e.g. "config.yaml: datasets[0]") starts each message.
    /// </summary>
    public DatasetConfig Validate(string where = "dataset")
    {
        try
        {
            if (string.IsNullOrWhiteSpace(Path)) throw new ConfigurationException("path is not set: give the data file's path");
            if (MaxSeqLength <= 0) throw new ConfigurationException($"max_seq_length must be a positive number of tokens, found {MaxSeqLength}");
            if (!(EvalSplit >= 0 && EvalSplit < 1))
                throw new ConfigurationException($"eval_split (val_set_size) must be in [0, 1), the fraction of examples held out, found {EvalSplit}");
            DataFormats.Parse(Format);
            if (ChatTemplate is { Length: > 0 } t) Data.ChatTemplate.Parse(t);
            if (Type is not null) DatasetFileTypes.Parse(Type);
            ParseOnError();
            ParseTextSplit();
        }
        catch (ConfigurationException e)
        {
            throw new ConfigurationException($"{where}: {e.Message}");
        }
        return this;
    }

    /// <summary>
    /// The *_field settings gathered as the <see cref="Data.FieldNames"/> the formatters read (instances and
    /// conversations keep their defaults).
    /// </summary>
    public FieldNames FieldNames => new()
    {
        Text = TextField, Instruction = InstructionField, Input = InputField, Output = OutputField,
        System = SystemField, Messages = MessagesField, Prompt = PromptField, Completion = CompletionField,
    };

    /// <see cref="Data.OnError"/> parsed from on_error.
    /// <exception cref="ConfigurationException">The value is not skip or fail.</exception>
    public OnError ParseOnError() => OnError.ToLowerInvariant() switch
    {
        "skip" => Data.OnError.Skip,
        "fail" => Data.OnError.Fail,
        _ => throw new ConfigurationException($"on_error '{OnError}' is not valid; expected skip or fail"),
    };

    /// <see cref="Data.TextSplit"/> parsed from text_split.
    /// <exception cref="ConfigurationException">The value is not whole, line or paragraph.</exception>
    public TextSplit ParseTextSplit() => TextSplit.ToLowerInvariant() switch
    {
        "whole" => Data.TextSplit.Whole,
        "line" => Data.TextSplit.Line,
        "paragraph" => Data.TextSplit.Paragraph,
        _ => throw new ConfigurationException($"text_split '{TextSplit}' is not valid; expected whole, line or paragraph"),
    };

    /// <summary>
    /// The options <see cref="DatasetReader"/> needs for a file of this dataset: type (null: from the extension), text
    /// split, text field and column names.
    /// </summary>
    /// <param name="path">The file to read (not used to decide the type here; the reader looks at its extension when type is null).</param>
    /// <exception cref="ConfigurationException">type or text_split is invalid.</exception>
    public ReaderOptions ReaderOptions(string path) => new()
    {
        FileType = Type is null ? null : DatasetFileTypes.Parse(Type),
        TextSplit = ParseTextSplit(),
        TextField = TextField,
        ColumnNames = ColumnNames,
    };
}
