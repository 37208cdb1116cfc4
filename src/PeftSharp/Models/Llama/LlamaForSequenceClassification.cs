using System.Text.Json;
using PeftSharp.Nn;
using TorchSharp;
using static TorchSharp.torch;
using Linear = PeftSharp.Nn.Linear;

namespace PeftSharp.Models.Llama;

#pragma warning disable IDE1006 // fields carry the checkpoint's names so state_dict keys equal HF keys

/// <summary>
/// HF's LlamaForSequenceClassification: the decoder stack and a bias-free <c>score</c> head (hidden -> labels) read at
/// each sequence's last non-pad token, pooled as HF pools: the rightmost position whose id is not pad_token_id.
/// With LoRA on the body the head trains in full through modules_to_save (PEFT's SEQ_CLS recipe).
/// </summary>
public sealed class LlamaForSequenceClassification : nn.Module
{
    /// <summary>The decoder stack (HF's <c>model.*</c> keys).</summary>
    public LlamaModel model;
    /// <summary>
    /// The classification head, hidden -> labels without bias (HF's <c>score</c>); trained in full via modules_to_save.
    /// </summary>
    public Linear score;
    /// <summary>The decoder configuration (config.json), with pad_token_id used for pooling.</summary>
    public LlamaConfig Config { get; }
    /// <summary>Label names by id (config.json's id2label; LABEL_i when it has none).</summary>
    public IReadOnlyList<string> Labels { get; }

    /// <summary>
    /// Creates the model with parameters of <paramref name="dtype"/> (default fp32), not initialised until loaded.
    /// </summary>
    /// <param name="config">The decoder configuration; validated.</param>
    /// <param name="labels">Label names by id; at least 2.</param>
    /// <param name="dtype">Parameter dtype.</param>
    /// <exception cref="ConfigurationException">The config is invalid or fewer than 2 labels are given.</exception>
    public LlamaForSequenceClassification(LlamaConfig config, IReadOnlyList<string> labels, ScalarType dtype = ScalarType.Float32)
        : base(nameof(LlamaForSequenceClassification))
    {
        config.Validate();
        if (labels.Count < 2) throw new ConfigurationException($"a classifier needs at least 2 labels, found {labels.Count}");
        Config = config;
        Labels = labels;
        model = new LlamaModel(config, dtype);
        score = new Linear(config.HiddenSize, labels.Count, false, dtype);
        RegisterComponents();
    }

    /// <summary>
    /// Label logits [B, labels] in fp32 (fp64 for an fp64 model). With an attention mask the pooled token is each
    /// row's last unmasked one (the same token HF picks whenever padding is exactly what the mask hides, and right
    /// even when the pad id also occurs in the text); without one, HF's pad-id rule.
    /// </summary>
    public Tensor Forward(Tensor inputIds, Tensor? attentionMask = null)
    {
        using var scope = NewDisposeScope();
        var h = model.Forward(inputIds, attentionMask);
        var last = attentionMask is null ? LastTokenIndex(inputIds, Config.PadTokenId) : LastUnmaskedIndex(attentionMask);
        var pooled = h[arange(h.shape[0], device: h.device), last];
        var logits = score.forward(pooled);
        return (logits.dtype == ScalarType.Float64 ? logits : logits.to(ScalarType.Float32)).MoveToOuterDisposeScope();
    }

    /// <summary>The index of each row's last token that is not padding (HF: argmax of position x non-pad).</summary>
    public static Tensor LastTokenIndex(Tensor inputIds, int? padTokenId)
    {
        long b = inputIds.shape[0], t = inputIds.shape[1];
        if (padTokenId is not { } pad)
        {
            if (b != 1) throw new ConfigurationException("the model config has no pad_token_id, so rows of a batch cannot be told apart from padding: set pad_token_id in config.json or classify one text at a time");
            return full(new[] { 1L }, t - 1, ScalarType.Int64, inputIds.device);
        }
        using var scope = NewDisposeScope();
        var positions = arange(t, ScalarType.Int64, inputIds.device).unsqueeze(0);
        return (positions * inputIds.ne(pad).to(ScalarType.Int64)).argmax(-1).MoveToOuterDisposeScope();
    }

    /// <summary>The index of each row's last position the mask keeps.</summary>
    public static Tensor LastUnmaskedIndex(Tensor attentionMask)
    {
        using var scope = NewDisposeScope();
        var positions = arange(attentionMask.shape[1], ScalarType.Int64, attentionMask.device).unsqueeze(0);
        return (positions * attentionMask.ne(0).to(ScalarType.Int64)).argmax(-1).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The most labels num_labels may ask for (ImageNet-21k has 21,843): a few bytes of config must not make us build
    /// millions of names. A longer id2label list is read as given.
    /// </summary>
    public const int MaxLabels = 32_768;

    /// <summary>
    /// Label names from a config.json: id2label in id order, else LABEL_0.. for num_labels (HF's defaults). Throws
    /// <see cref="InvalidFileFormatException"/> for ids that are not 0..n-1, names that are not strings, or a num_labels
    /// outside 0..<see cref="MaxLabels"/>.
    /// </summary>
    public static IReadOnlyList<string> LabelsFromConfig(JsonReading j)
    {
        if (j.Object("id2label") is { } map)
        {
            var pairs = map.Root.EnumerateObject().Select(p => (Id: int.TryParse(p.Name, out var i) ? i
                : throw new InvalidFileFormatException(j.Source, $"id2label key '{p.Name}' is not an integer id"), Name: p.Value.ValueKind switch
                {
                    JsonValueKind.String => p.Value.GetString()!,
                    JsonValueKind.Null => p.Name,
                    var kind => throw new InvalidFileFormatException(j.Source, $"id2label[\"{p.Name}\"] is a JSON {kind}; label names must be strings"),
                })).OrderBy(p => p.Id).ToList();
            if (pairs.Select((p, i) => p.Id != i).Any(bad => bad))
                throw new InvalidFileFormatException(j.Source, $"id2label ids must be 0..{pairs.Count - 1}, found {string.Join(", ", pairs.Select(p => p.Id))}");
            return pairs.Select(p => p.Name).ToList();
        }
        int n = j.Int("num_labels", 2);
        if (n is < 0 or > MaxLabels)
            throw new InvalidFileFormatException(j.Source, $"num_labels is {n}; it must be between 0 and {MaxLabels:N0}");
        return Enumerable.Range(0, n).Select(i => $"LABEL_{i}").ToList();
    }
}
