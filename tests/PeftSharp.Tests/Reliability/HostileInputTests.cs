using System.Buffers.Binary;
using System.Text;
using PeftSharp.Tests.Audio;
using PeftSharp.Tests.Reliability.Fuzz;
using PeftSharp.Tests.Support;

namespace PeftSharp.Tests.Reliability;

/// <summary>
/// One input per bug the reader fuzz tests found, kept as a fixed case: each used to escape as another exception
/// (named in the case), each must now be refused with a <see cref="PeftSharpException"/> that names the problem.
/// </summary>
public class HostileInputTests
{
    private static byte[] Utf8(string s) => Encoding.UTF8.GetBytes(s);

    private static readonly string LlamaConfig = Encoding.UTF8.GetString(JsonSeeds.LlamaConfigs[0]);
    private static readonly string TokenizerJson = Encoding.UTF8.GetString(JsonSeeds.SentencePieceStyleTokenizer());

    private static byte[] LlamaCHeader(int field, int value)
    {
        var bytes = (byte[])BinarySeeds.LlamaCCheckpoints[0].Clone();
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(field * 4), value);
        return bytes;
    }

    /// <summary>A complete tokenizer.bin of five pieces and no byte pieces.</summary>
    private static byte[] TinyTokenizerBin()
    {
        var ms = new MemoryStream();
        var w = new BinaryWriter(ms);
        w.Write(5);
        foreach (var piece in new[] { "<unk>", "\n<s>\n", "\n</s>\n", "a", "b" })
        {
            w.Write(0f);
            w.Write(Encoding.UTF8.GetByteCount(piece));
            w.Write(Encoding.UTF8.GetBytes(piece));
        }
        return ms.ToArray();
    }

    private static byte[] Tokenizer(string from, string to)
    {
        Assert.Contains(from, TokenizerJson);
        return Utf8(TokenizerJson.Replace(from, to, StringComparison.Ordinal));
    }

    // case -> (format, input, fragment of the expected message)
    private static readonly Dictionary<string, (FuzzFormat Format, byte[] Input, string Expected)> Table = new()
    {
        // was ArgumentOutOfRangeException: a 4 GB chunk size overflowed the int offset of the next chunk
        ["wav chunk of 4 GB"] = (FuzzFormats.Wav, WavBytes.Riff(WavBytes.Chunk("LIST", [1, 2], declared: uint.MaxValue)), "no 'fmt ' chunk"),
        // was OverflowException from Math.Abs(int.MinValue)
        ["llama2.c vocab int.MinValue"] = (FuzzFormats.LlamaCCheckpoint, LlamaCHeader(5, int.MinValue), "vocab_size = -2147483648"),
        // was a hang: 4 million tensor entries registered before the file length was compared
        ["llama2.c 458754 layers"] = (FuzzFormats.LlamaCCheckpoint, LlamaCHeader(2, 458754), "n_layers 458754"),
        // was IndexOutOfRangeException in Encode: byte fallback ids 3..258 did not exist
        ["tokenizer.bin without byte pieces"] = (FuzzFormats.LlamaCTokenizer, TinyTokenizerBin(), "at least 259"),
        // was InvalidOperationException from JsonElement.GetString
        ["config.json lone surrogate"] = (FuzzFormats.LlamaConfigJson, Utf8(LlamaConfig.Replace("\"silu\"", "\"\\ud800\"")), "is not valid text"),
        ["config.json invalid UTF-8"] = (FuzzFormats.LlamaConfigJson, [.. Utf8("{\"model_type\": \"ll"), 0xC3, 0x28, .. Utf8("ama\"}")], "is not valid text"),
        // was silently ambiguous, and ArgumentException from ToDictionary for rank_pattern
        ["config.json duplicate key"] = (FuzzFormats.AdapterConfigJson, Utf8("""{"peft_type": "LORA", "target_modules": ["q_proj"], "rank_pattern": {"q_proj": 4, "q_proj": 8}}"""), "not valid JSON"),
        // was InvalidOperationException: Sequence contains no elements
        ["whisper eos []"] = (FuzzFormats.WhisperConfigJson, Utf8(Encoding.UTF8.GetString(JsonSeeds.WhisperConfigs[0]).Replace("\"eos_token_id\": 50257", "\"eos_token_id\": []")), "'eos_token_id' is an empty list"),
        // was InvalidOperationException from GetString on a number
        ["id2label number"] = (FuzzFormats.ClassifierConfigJson, Utf8(LlamaConfig.Replace("\"vocab_size\"", "\"id2label\": {\"0\": 1, \"1\": \"b\"}, \"vocab_size\"")), "label names must be strings"),
        // was 2^31 label names built (or ArgumentOutOfRangeException for a negative count)
        ["num_labels int.MaxValue"] = (FuzzFormats.ClassifierConfigJson, Utf8(LlamaConfig.Replace("\"vocab_size\"", "\"num_labels\": 2147483647, \"vocab_size\"")), "num_labels is 2147483647"),
        // were InvalidOperationException / NullReferenceException / IndexOutOfRangeException / RegexParseException / ArgumentException
        ["tokenizer model not an object"] = (FuzzFormats.TokenizerJson, Utf8("""{"model": [1, 2]}"""), "no \"model\" object"),
        ["tokenizer vocab id a string"] = (FuzzFormats.TokenizerJson, Tokenizer("\"<unk>\":0", "\"<unk>\":\"0\""), "model.vocab['<unk>'] must be a token id"),
        ["tokenizer merge of numbers"] = (FuzzFormats.TokenizerJson, Tokenizer("\"merges\": [\"▁ h\"", "\"merges\": [[1, null]"), "model.merges[0] must be"),
        ["tokenizer Strip content empty"] = (FuzzFormats.TokenizerJson, Tokenizer("\"type\": \"Strip\", \"content\": \" \"", "\"type\": \"Strip\", \"content\": \"\""), "decoder Strip needs \"content\": one character"),
        ["tokenizer invalid regex"] = (FuzzFormats.TokenizerJson, Tokenizer("\"pattern\": {\"String\": \" \"}", "\"pattern\": {\"Regex\": \"(\"}"), "is not a regular expression .NET can run"),
        // was an Encode-time blow-up: an empty Replace pattern inserts its content between every two characters
        ["tokenizer empty Replace pattern"] = (FuzzFormats.TokenizerJson, Tokenizer("\"pattern\": {\"String\": \" \"}", "\"pattern\": {\"String\": \"\"}"), "has an empty pattern"),
        ["tokenizer duplicate key"] = (FuzzFormats.TokenizerJson, Tokenizer("\"version\": \"1.0\",", "\"version\": \"1.0\", \"version\": \"2\","), "not valid JSON"),
        ["tokenizer special token ids strings"] = (FuzzFormats.TokenizerJson, Tokenizer("\"ids\": [1]", "\"ids\": [\"1\"]"), "TemplateProcessing special token '<s>' ids must be a token id"),
        ["tokenizer added token not an object"] = (FuzzFormats.TokenizerJson, Tokenizer("\"added_tokens\": [", "\"added_tokens\": [7, "), "added token 7"),
        // was a hang and gigabytes: each ByteLevel pass doubles the text
        ["tokenizer ByteLevel twice"] = (FuzzFormats.TokenizerJson, Utf8(Encoding.UTF8.GetString(JsonSeeds.ByteLevelTokenizer(splitPreTokenizer: true))
            .Replace("\"use_regex\": false}]", "\"use_regex\": false}, {\"type\": \"ByteLevel\"}]")), "applies ByteLevel 2 times"),
        // was InvalidOperationException from Utf8JsonReader.GetString
        ["safetensors lone surrogate"] = (FuzzFormats.SafeTensors, BinarySeeds.SafeTensors("""{"__metadata__": {"format": "\ud800"}}""", []), "not valid text"),
        // was a libtorch ExternalException (stride calculation overflowed) from torch.empty
        ["safetensors empty tensor with overflowing strides"] = (FuzzFormats.SafeTensors,
            BinarySeeds.SafeTensors("{\"w\": {\"dtype\": \"F32\", \"shape\": [0" + string.Concat(Enumerable.Repeat(",3", 60)) + "], \"data_offsets\": [0, 0]}}", []), "has more bytes than"),
        // was InvalidOperationException from JsonProperty.Name; odd inputs stop at the first bad record (on_error: fail)
        ["json array invalid UTF-8 key"] = (FuzzFormats.JsonArray, [.. Utf8("[{\"te"), 0xFF, .. Utf8("xt\": \"a\"}]")], "invalid text"),
        ["jsonl lone surrogate"] = (FuzzFormats.Jsonl, Utf8("{\"text\": \"\\udc00\"}\n"), "invalid text"),
    };

    public static TheoryData<string> Cases => new(Table.Keys);

    [Theory]
    [MemberData(nameof(Cases))]
    public void Is_refused_with_a_message_naming_the_problem(string name)
    {
        var (format, input, expected) = Table[name];
        using var dir = Fixtures.NewTempDir();
        string path = dir.File(format.FileName);
        File.WriteAllBytes(path, input);
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.ThrowsAny<PeftSharpException>(() => format.Load(path, 1));
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before <= FuzzRunner.AllocationBound(input.Length), "allocated beyond the bound");
        Assert.Contains(expected, e.Message);
    }
}
