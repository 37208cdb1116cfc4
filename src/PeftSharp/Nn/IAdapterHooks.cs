using static TorchSharp.torch;

namespace PeftSharp.Nn;

/// <summary>
/// What an adapter method plugs into a <see cref="Linear"/> (LoRA, DoRA, IA3...). The Linear knows nothing of the
/// method: it computes its base result and hands it to each active adapter in attach order.
/// </summary>
public interface ILinearAdapter
{
    /// <summary>True when the adapter computes the whole output itself (a full trainable copy): the base is skipped.</summary>
    bool ReplacesBase => false;
    /// <summary>The layer output with this adapter applied, given the input and the output so far.</summary>
    Tensor Apply(Tensor x, Tensor result, Linear host);
    /// <summary>
    /// The whole layer output (base + this adapter) through the adapter's own fused function, or null when it has none
    /// for this call. Asked only when this is the one adapter running on the layer.
    /// </summary>
    Tensor? FusedForward(Tensor x, Linear host) => null;
    /// <summary>Folds the adapter into the host's weight (and bias); must be undoable by <see cref="Unmerge"/>.</summary>
    void Merge(Linear host);
    /// <summary>
    /// Subtracts what <see cref="Merge"/> added to the host's weight (and bias), restoring the base weight up to
    /// rounding (for a quantized base, up to re-quantization).
    /// </summary>
    void Unmerge(Linear host);
    /// <summary>Frees the adapter's tensors and unregisters them from the host.</summary>
    void Detach(Linear host);
}

/// <summary>The same contract for <see cref="Embedding"/> layers (input is token ids).</summary>
public interface IEmbeddingAdapter
{
    /// <summary>
    /// True when the adapter computes the whole lookup itself (e.g. a trainable copy of the table): the base lookup is
    /// skipped.
    /// </summary>
    bool ReplacesBase => false;
    /// <summary>The embeddings with this adapter applied.</summary>
    /// <param name="ids">The token ids, int64.</param>
    /// <param name="result">The output so far (the base lookup, or a previous adapter's result); null when this adapter <see cref="ReplacesBase"/> and runs first.</param>
    /// <param name="host">The layer it is attached to.</param>
    Tensor Apply(Tensor ids, Tensor result, Embedding host);
    /// <summary>Folds the adapter into the host's table; must be undoable by <see cref="Unmerge"/>.</summary>
    void Merge(Embedding host);
    /// <summary>Removes what <see cref="Merge"/> folded into the host's table.</summary>
    void Unmerge(Embedding host);
    /// <summary>Frees the adapter's tensors and unregisters them from the host.</summary>
    void Detach(Embedding host);
}

/// <summary>An adapter whose behaviour differs between training and evaluation (dropout, training-only paths).</summary>
public interface IHasTrainingMode
{
    /// <summary>
    /// True in training mode (dropout on); set by the model's train()/eval(), like torch.nn.Module.training.
    /// </summary>
    bool Training { get; set; }
}

/// <summary>What a PEFT model switches on any module that carries adapters, whatever their type.</summary>
public interface IAdapterSwitches
{
    /// <summary>
    /// True inside a disable-adapters scope (PEFT's disable_adapter()): the module computes its base function only.
    /// </summary>
    bool Disabled { get; set; }
    /// <summary>
    /// Makes exactly these adapters active (PEFT's set_adapter); names not attached here are ignored, since a
    /// model-wide call reaches layers that lack some adapters.
    /// </summary>
    void SetActive(IEnumerable<string> names);
    /// <summary>
    /// Records that the adapter <paramref name="name"/> is (or is no longer) merged into the base weight, so forward
    /// does not apply it twice.
    /// </summary>
    void MarkMerged(string name, bool isMerged);
}

/// <summary>A module that carries adapters: Linear, Embedding, and the model-level prompt and prefix slots.</summary>
public interface IAdapterHost
{
    /// <summary>The module's adapter switches (active set, merged set, disabled flag).</summary>
    IAdapterSwitches Switches { get; }
}

/// <summary>Adapter bookkeeping shared by adaptable layers: attach order, which are active, which are merged.</summary>
public sealed class AdapterSet<TAdapter> : IAdapterSwitches where TAdapter : class
{
    readonly List<(string Name, TAdapter Adapter)> attached = new();
    readonly HashSet<string> merged = new();

    /// <summary>Every attached adapter with its name, in attach order (the order forward applies them).</summary>
    public IReadOnlyList<(string Name, TAdapter Adapter)> All => attached;
    /// <summary>
    /// Names of the active adapters (a subset of the attached ones); empty until <see cref="SetActive"/> is called.
    /// </summary>
    public IReadOnlyCollection<string> Active { get; private set; } = Array.Empty<string>();
    /// <summary>Names of the adapters currently merged into the base weight.</summary>
    public IReadOnlyCollection<string> Merged => merged;
    /// <summary>Set by a disable-adapters scope: the layer computes its base function only.</summary>
    public bool Disabled { get; set; }

    /// <summary>
    /// Attaches an adapter under <paramref name="name"/> (PEFT's adapter_name, e.g. "default"); it is not active until
    /// <see cref="SetActive"/>.
    /// </summary>
    /// <exception cref="PeftSharpException">An adapter of that name is already attached.</exception>
    public void Add(string name, TAdapter adapter)
    {
        if (attached.Any(a => a.Name == name)) throw new PeftSharpException($"adapter '{name}' is already attached to this layer");
        attached.Add((name, adapter));
    }

    /// <summary>The adapter named <paramref name="name"/>, or null when none is attached under that name.</summary>
    public TAdapter? Get(string name) => attached.FirstOrDefault(a => a.Name == name).Adapter;

    /// <summary>
    /// Detaches the adapter from the bookkeeping (not from the host's modules: see <see cref="ILinearAdapter.Detach"/>)
    /// and returns it.
    /// </summary>
    /// <exception cref="PeftSharpException">No adapter of that name is attached.</exception>
    public TAdapter Remove(string name)
    {
        var i = attached.FindIndex(a => a.Name == name);
        if (i < 0) throw new PeftSharpException($"adapter '{name}' is not attached to this layer");
        var a = attached[i].Adapter;
        attached.RemoveAt(i);
        merged.Remove(name);
        Active = Active.Where(n => n != name).ToArray();
        return a;
    }

    /// <inheritdoc/>
    public void SetActive(IEnumerable<string> names) => Active = names.Where(n => attached.Any(a => a.Name == n)).ToArray();

    /// <inheritdoc/>
    public void MarkMerged(string name, bool isMerged)
    {
        if (isMerged) merged.Add(name);
        else merged.Remove(name);
    }

    /// <summary>The one adapter taking part in forward, or null when there are none or several.</summary>
    public TAdapter? SingleRunning()
    {
        TAdapter? only = null;
        foreach (var a in Running())
        {
            if (only is not null) return null;
            only = a;
        }
        return only;
    }

    /// <summary>Adapters that take part in forward: active, not merged (merged ones are already in the weight).</summary>
    public IEnumerable<TAdapter> Running()
    {
        if (Disabled) yield break;
        foreach (var (name, a) in attached)
            if (Active.Contains(name) && !merged.Contains(name)) yield return a;
    }
}
