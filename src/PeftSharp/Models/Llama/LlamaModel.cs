using PeftSharp.Nn;
using TorchSharp;
using TorchSharp.Modules;
using Embedding = PeftSharp.Nn.Embedding;
using Linear = PeftSharp.Nn.Linear;
using static TorchSharp.torch;

namespace PeftSharp.Models.Llama;

#pragma warning disable IDE1006 // fields carry the checkpoint's names so state_dict keys equal HF keys

/// <summary>The decoder stack (HF's `model.*`): embeddings, layers, final norm.</summary>
public sealed class LlamaModel : nn.Module
{
    public Embedding embed_tokens;
    public ModuleList<LlamaDecoderLayer> layers;
    public RmsNorm norm;
    readonly RotaryEmbedding rotary;

    /// <summary>Recompute each decoder layer in backward instead of keeping its activations (when gradients are on).</summary>
    public bool GradientCheckpointing { get; set; }

    public LlamaModel(LlamaConfig c, ScalarType dtype) : base("model")
    {
        embed_tokens = new Embedding(c.VocabSize, c.HiddenSize, dtype);
        layers = new ModuleList<LlamaDecoderLayer>(Enumerable.Range(0, c.NumHiddenLayers).Select(i => new LlamaDecoderLayer(c, i, dtype)).ToArray());
        norm = new RmsNorm(c.HiddenSize, c.RmsNormEps, dtype);
        var s = c.RopeScaling;
        rotary = new RotaryEmbedding(c.HeadDim, c.RopeTheta, s?.Type ?? "default", s?.Factor ?? 1,
            s?.LowFreqFactor ?? 1, s?.HighFreqFactor ?? 4, s?.OriginalMaxPositionEmbeddings ?? 8192);
        RegisterComponents();
    }

    /// <summary>
    /// Final hidden states [B, T, hidden]. <paramref name="attentionMask"/> is HF's [B, P+T] 1/0 mask over cached and
    /// new tokens; <paramref name="inputsEmbeds"/> replaces the embedding lookup (prompt tuning feeds it).
    /// </summary>
    /// <param name="sequenceIds">For packed rows: which example each token belongs to ([B, T], -1 on padding);
    /// attention then stays within an example. Pass the matching per-example <paramref name="positionIds"/>.</param>
    public Tensor Forward(Tensor? inputIds, Tensor? attentionMask = null, KvCache? cache = null,
        Tensor? positionIds = null, Tensor? inputsEmbeds = null, Tensor? sequenceIds = null)
    {
        using var scope = NewDisposeScope();
        var h = inputsEmbeds ?? embed_tokens.forward(inputIds ?? throw new ArgumentNullException(nameof(inputIds)));
        long b = h.shape[0], t = h.shape[1], past = cache?.Length ?? 0;
        if (attentionMask is not null && attentionMask.shape[1] != past + t)
            throw new PeftSharpException($"attention mask covers {attentionMask.shape[1]} positions but the cache holds {past} and the input adds {t}: pass the mask of all positions");
        positionIds ??= AttentionMask.PositionIds(t, past, attentionMask, b, h.device);
        var mask = sequenceIds is not null ? AttentionMask.BuildPacked(sequenceIds) : AttentionMask.Build(t, past, attentionMask, h.device);
        var (cos, sin) = rotary.CosSin(positionIds, h.dtype);
        bool checkpoint = GradientCheckpointing && cache is null && is_grad_enabled();
        // A checkpointed block is only part of the graph if its input requires grad; with a frozen embedding table it
        // does not, so mark it (HF's enable_input_require_grads does the same).
        if (checkpoint && !h.requires_grad) h = h.detach().requires_grad_(true);
        foreach (var layer in layers)
        {
            if (checkpoint)
                h = mask is null
                    ? ActivationCheckpoint.Apply((x, c) => layer.Forward(x, c[0], c[1], null, null), h, cos, sin)
                    : ActivationCheckpoint.Apply((x, c) => layer.Forward(x, c[0], c[1], c[2], null), h, cos, sin, mask);
            else
                h = layer.Forward(h, cos, sin, mask, cache);
        }
        cache?.Advance((int)t);
        return norm.forward(h).MoveToOuterDisposeScope();
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing) rotary.Dispose();
        base.Dispose(disposing);
    }
}

/// <summary>HF's ...ForCausalLM: the decoder plus the output head (`lm_head`), tied to the embeddings when configured.</summary>
public sealed class LlamaForCausalLM : nn.Module
{
    public LlamaModel model;
    public Linear lm_head;
    public LlamaConfig Config { get; }
    public ScalarType DType { get; }

    public LlamaForCausalLM(LlamaConfig config, ScalarType dtype = ScalarType.Float32) : base(nameof(LlamaForCausalLM))
    {
        config.Validate();
        Config = config;
        DType = dtype;
        model = new LlamaModel(config, dtype);
        lm_head = config.TieWordEmbeddings
            ? new Linear(model.embed_tokens.weight)
            : new Linear(config.HiddenSize, config.VocabSize, false, dtype);
        RegisterComponents();
    }

    /// <summary>Checkpoint keys this model does not store separately (the tied head).</summary>
    public IReadOnlySet<string> TiedKeys => Config.TieWordEmbeddings ? new HashSet<string> { "lm_head.weight" } : new HashSet<string>();

    /// <summary>Logits [B, T, vocab] in fp32 (fp64 for an fp64 model, as gradient checks need).</summary>
    public Tensor Forward(Tensor inputIds, Tensor? attentionMask = null, KvCache? cache = null, Tensor? positionIds = null, Tensor? sequenceIds = null)
    {
        using var scope = NewDisposeScope();
        var h = model.Forward(inputIds, attentionMask, cache, positionIds, sequenceIds: sequenceIds);
        var logits = lm_head.forward(h);
        return (logits.dtype == ScalarType.Float64 ? logits : logits.to(ScalarType.Float32)).MoveToOuterDisposeScope();
    }

    public KvCache NewCache(int capacity) => new(Config.NumHiddenLayers, capacity);
}
