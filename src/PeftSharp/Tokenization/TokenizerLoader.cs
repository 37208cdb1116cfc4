using PeftSharp.Tokenization.HuggingFace;
using PeftSharp.Tokenization.Llama2c;
using PeftSharp.Tokenization.SentencePiece;
using PeftSharp.Tokenization.Tiktoken;

namespace PeftSharp.Tokenization;

/// <summary>
/// Opens the tokenizer of a model folder or a single tokenizer file, whatever its format. A malformed or truncated file
/// throws <see cref="InvalidFileFormatException"/>; a format or component this version does not support throws
/// <see cref="ConfigurationException"/>.
/// </summary>
public static class TokenizerLoader
{
    private const string Expected = "tokenizer.json (Hugging Face), tokenizer.model (sentencepiece), tokenizer.bin (llama2.c) or *.tiktoken";

    /// <summary>Picks tokenizer.json, then tokenizer.model, then tokenizer.bin, then *.tiktoken; special tokens come from the folder's config files.</summary>
    public static ITextTokenizer FromFolder(string folder)
    {
        if (!Directory.Exists(folder))
            throw new ConfigurationException($"tokenizer folder '{folder}' does not exist; expected a folder with {Expected}");
        var settings = SpecialTokenSettingsReader.Read(folder);
        foreach (var name in new[] { "tokenizer.json", "tokenizer.model", "tokenizer.bin" })
        {
            string path = Path.Combine(folder, name);
            if (File.Exists(path)) return FromFile(path, settings);
        }
        var tiktoken = Directory.GetFiles(folder, "*.tiktoken").Order(StringComparer.Ordinal).FirstOrDefault();
        if (tiktoken is not null) return FromFile(tiktoken, settings);

        var present = Directory.GetFileSystemEntries(folder).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToList();
        throw new ConfigurationException(
            $"no tokenizer in '{folder}': expected {Expected}; the folder has: {(present.Count == 0 ? "(nothing)" : string.Join(", ", present))}");
    }

    /// <summary>Opens one tokenizer file, chosen by its name: *.json, *.model, *.bin (llama2.c) or *.tiktoken (GPT-2 pattern, &lt;|endoftext|&gt; after the last rank).</summary>
    public static ITextTokenizer FromFile(string path, SpecialTokenSettings? settings = null)
    {
        if (!File.Exists(path)) throw new InvalidFileFormatException(path, $"file not found; expected {Expected}");
        string ext = Path.GetExtension(path).ToLowerInvariant();
        return ext switch
        {
            ".json" => new HfTokenizer(path, settings),
            ".model" => new SentencePieceBpeTokenizer(SentencePieceModel.Parse(path), path, settings),
            ".bin" => new Llama2cTokenizer(path, settings: settings),
            ".tiktoken" => new TiktokenTokenizer(path, settings: settings),
            _ => throw new ConfigurationException($"{path}: unknown tokenizer file type '{ext}'; expected {Expected}"),
        };
    }
}
