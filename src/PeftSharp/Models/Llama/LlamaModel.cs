using PeftSharp.Nn;
using TorchSharp;
using TorchSharp.Modules;
using Embedding = PeftSharp.Nn.Embedding;
using Linear = PeftSharp.Nn.Linear;
using static TorchSharp.torch;

namespace PeftSharp.Models.Llama;

#pragma warning disable IDE1006 // fields carry the checkpoint's names so state_dict keys equal HF keys

/// <summary>
/// The decoder stack (HF's `model.*`): embeddings, layers, final norm. Virtual tokens in its slot (prompt tuning) are
/// prepended to the input and removed from the output, so callers always see their own T positions.
/// </summary>
public sealed class LlamaModel : nn.Module, IVirtualTokenHost
{
    /// <summary>Token embedding table [vocab, hidden] (HF's embed_tokens).</summary>
    public Embedding embed_tokens;
    /// <summary>The decoder layers in order (HF's layers.N).</summary>
    public ModuleList<LlamaDecoderLayer> layers;
    /// <summary>Final RMSNorm applied after the last layer (HF's norm).</summary>
    public RmsNorm norm;
    readonly RotaryEmbedding rotary;

    /// <summary>Recompute each decoder layer in backward instead of keeping its activations (when gradients are on).</summary>
    public bool GradientCheckpointing { get; set; }

    /// <summary>
    /// Creates the decoder stack described by <paramref name="c"/> with parameters of <paramref name="dtype"/>.
    /// </summary>
    public LlamaModel(LlamaConfig c, ScalarType dtype) : base("model")
    {
        embed_tokens = new Embedding(c.VocabSize, c.HiddenSize, dtype);
        layers = new ModuleList<LlamaDecoderLayer>(Enumerable.Range(0, c.NumHiddenLayers).Select(i => new LlamaDecoderLayer(c, i, dtype)).ToArray());
        norm = new RmsNorm(c.HiddenSize, c.RmsNormEps, dtype);
        var s = c.RopeScaling;
        rotary = new RotaryEmbedding(c.HeadDim, c.RopeTheta, s?.Type ?? "default", s?.Factor ?? 1,
            s?.LowFreqFactor ?? 1, s?.HighFreqFactor ?? 4, s?.OriginalMaxPositionEmbeddings ?? 8192);
        hiddenSize = c.HiddenSize;
        RegisterComponents();
    }

    readonly int hiddenSize;
    /// <summary>The slot prompt-tuning adapters are injected into; at most one runs at a time.</summary>
    public AdapterSet<IVirtualTokens> VirtualTokens { get; } = new();
    IAdapterSwitches IAdapterHost.Switches => VirtualTokens;
    /// <summary>Width of the hidden states (hidden_size).</summary>
    public int HiddenSize => hiddenSize;
    /// <summary>
    /// The token embedding module (HF's get_input_embeddings), where prompt-tuning adapters take their initial vectors.
    /// </summary>
    public Embedding InputEmbeddings => embed_tokens;

    /// <summary>
    /// Final hidden states [B, T, hidden]. <paramref name="attentionMask"/> is HF's [B, P+T] 1/0 mask over cached and
    /// new tokens; <paramref name="inputsEmbeds"/> replaces the embedding lookup (prompt tuning feeds it).
    /// </summary>
    /// <param name="inputIds">Token ids [B, T] (int64); may be null when <paramref name="inputsEmbeds"/> is
    /// given.</param>
    /// <param name="attentionMask">1 for real tokens, 0 for padding, over cached and new positions; null = all
    /// real.</param>
    /// <param name="cache">Keys/values of earlier positions for incremental decoding; null when processing whole
    /// sequences.</param>
    /// <param name="positionIds">Rotary positions [B, T]; null derives them from the mask and the cache length, as HF
    /// does.</param>
    /// <param name="inputsEmbeds">Embeddings [B, T, hidden] used instead of looking up <paramref
    /// name="inputIds"/>.</param>
    /// <exception cref="ArgumentNullException">Neither ids nor embeddings are given.</exception>
    /// <exception cref="PeftSharpException">The mask does not cover the cached and new positions.</exception>
    /// <exception cref="ConfigurationException">Prompt tuning meets packed rows.</exception>
    /// <param name="sequenceIds">For packed rows: which example each token belongs to ([B, T], -1 on padding);
    /// attention then stays within an example. Pass the matching per-example <paramref name="positionIds"/>.</param>
    public Tensor Forward(Tensor? inputIds, Tensor? attentionMask = null, KvCache? cache = null,
        Tensor? positionIds = null, Tensor? inputsEmbeds = null, Tensor? sequenceIds = null)
    {
        using var scope = NewDisposeScope();
        var h = inputsEmbeds ?? embed_tokens.forward(inputIds ?? throw new ArgumentNullException(nameof(inputIds)));
        long b = h.shape[0], t = h.shape[1], past = cache?.Length ?? 0;
        long hidden = cache?.VirtualLength ?? 0; // positions in the cache the caller's mask does not cover
        if (attentionMask is not null && attentionMask.shape[1] != past - hidden + t)
            throw new PeftSharpException($"attention mask covers {attentionMask.shape[1]} positions but the cache holds {past - hidden} and the input adds {t}: pass the mask of all positions");
        int virtualTokens = 0;
        if (VirtualTokens.SingleRunning() is { } prompt && past == 0)
        {
            if (sequenceIds is not null)
                throw new ConfigurationException("prompt tuning cannot run on packed rows (each example needs its own virtual tokens): turn sample_packing off");
            virtualTokens = prompt.Count;
            h = cat(new[] { prompt.Embeddings(b, h.dtype, h.device), h }, 1);
            if (positionIds is not null) positionIds = cat(new[] { arange(virtualTokens, device: h.device).unsqueeze(0).expand(b, -1), positionIds + virtualTokens }, 1);
            if (cache is not null) cache.VirtualLength = virtualTokens;
            hidden = virtualTokens;
            t += virtualTokens;
        }
        if (attentionMask is not null && hidden > 0)
            attentionMask = cat(new[] { ones(b, hidden, dtype: attentionMask.dtype, device: attentionMask.device), attentionMask }, 1);
        // A prefix (prefix tuning) sits before every position: positions and the mask start after it, as in PEFT.
        int prefix = layers.Count > 0 ? layers[0].self_attn.PrefixLength : 0;
        if (prefix > 0 && attentionMask is not null)
            attentionMask = cat(new[] { ones(b, prefix, dtype: attentionMask.dtype, device: attentionMask.device), attentionMask }, 1);
        if (prefix > 0 && positionIds is not null) positionIds = positionIds + prefix;
        positionIds ??= AttentionMask.PositionIds(t, past + prefix, attentionMask, b, h.device);
        var mask = sequenceIds is not null ? AttentionMask.BuildPacked(sequenceIds) : AttentionMask.Build(t, past + prefix, attentionMask, h.device);
        if (prefix > 0 && sequenceIds is not null) mask = cat(new[] { ones(b, 1, t, prefix, dtype: ScalarType.Bool, device: h.device), mask! }, 3);
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
        if (virtualTokens > 0) h = h.narrow(1, virtualTokens, t - virtualTokens);
        return norm.forward(h).MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing) rotary.Dispose();
        base.Dispose(disposing);
    }
}

/// <summary>HF's ...ForCausalLM: the decoder plus the output head (`lm_head`), tied to the embeddings when configured.</summary>
public sealed class LlamaForCausalLM : nn.Module
{
    /// <summary>The decoder stack (HF's <c>model.*</c> keys).</summary>
    public LlamaModel model;
    /// <summary>
    /// Output projection hidden -> vocab without bias (HF's lm_head); shares the embedding weight when
    /// tie_word_embeddings.
    /// </summary>
    public Linear lm_head;
    /// <summary>The configuration the model was built from (config.json).</summary>
    public LlamaConfig Config { get; }
    /// <summary>
    /// The dtype the parameters were created in (fp32, bf16 or fp16); quantized layers keep their own storage.
    /// </summary>
    public ScalarType DType { get; }

    /// <summary>
    /// Creates the model with parameters of <paramref name="dtype"/> (default fp32), not initialised until loaded (<see
    /// cref="PretrainedCausalLM"/> loads a checkpoint folder).
    /// </summary>
    /// <exception cref="ConfigurationException">The config is invalid (<see cref="LlamaConfig.Validate"/>).</exception>
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

    /// <summary>A cache for <paramref name="capacity"/> positions the caller passes, plus room for running virtual tokens.</summary>
    public KvCache NewCache(int capacity) => new(Config.NumHiddenLayers, capacity + (model.VirtualTokens.SingleRunning()?.Count ?? 0));
}
