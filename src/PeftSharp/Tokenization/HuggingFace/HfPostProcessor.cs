using System.Text.Json.Nodes;

namespace PeftSharp.Tokenization.HuggingFace;

/// <summary>What HF's post-processor adds around a single sequence when special tokens are requested.</summary>
internal sealed record HfPostProcessor(IReadOnlyList<int> Prefix, IReadOnlyList<int> Suffix)
{
    public static readonly HfPostProcessor None = new([], []);

    public static HfPostProcessor Create(JsonNode? node, string file)
    {
        if (node is null) return None;
        string type = JsonHelpers.TypeOf(node, file, "post_processor");
        switch (type)
        {
            case "ByteLevel": return None; // only trims offsets
            case "Sequence":
                var parts = JsonHelpers.Items(node, "processors", file, "post_processor Sequence").Select(n => Create(n, file)).ToList();
                return new(parts.SelectMany(p => p.Prefix).ToList(), parts.SelectMany(p => p.Suffix).ToList());
            case "TemplateProcessing": return Template(node, file);
            case "BertProcessing":
            case "RobertaProcessing":
                return new([SpecialPairId(node, "cls", file)], [SpecialPairId(node, "sep", file)]);
            default:
                throw new ConfigurationException(
                    $"{file}: post_processor type '{type}' is not supported; supported: TemplateProcessing, ByteLevel, Sequence, BertProcessing, RobertaProcessing");
        }
    }

    private static HfPostProcessor Template(JsonNode node, string file)
    {
        var specials = JsonHelpers.Get(node, "special_tokens");
        var prefix = new List<int>();
        var suffix = new List<int>();
        bool seenSequence = false;
        foreach (var item in JsonHelpers.Items(node, "single", file, "post_processor TemplateProcessing"))
        {
            if (JsonHelpers.Get(item, "Sequence") is not null) { seenSequence = true; continue; }
            string id = JsonHelpers.Str(JsonHelpers.Get(item, "SpecialToken"), "id")
                ?? throw new InvalidFileFormatException(file, "TemplateProcessing item is neither Sequence nor SpecialToken");
            var ids = JsonHelpers.Get(JsonHelpers.Get(specials, id), "ids") as JsonArray
                ?? throw new InvalidFileFormatException(file, $"TemplateProcessing special token '{id}' is not in special_tokens");
            (seenSequence ? suffix : prefix).AddRange(ids.Select(x => JsonHelpers.Id(x, file, $"TemplateProcessing special token '{id}' ids")));
        }
        return new(prefix, suffix);
    }

    // Bert/Roberta store ["[CLS]", 101].
    private static int SpecialPairId(JsonNode node, string key, string file) =>
        JsonHelpers.Get(node, key) is JsonArray { Count: 2 } a ? JsonHelpers.Id(a[1], file, $"post_processor \"{key}\" id")
            : throw new InvalidFileFormatException(file, $"post_processor needs \"{key}\": [token, id]");
}
