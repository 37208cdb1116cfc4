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
    void Unmerge(Linear host);
    /// <summary>Frees the adapter's tensors and unregisters them from the host.</summary>
    void Detach(Linear host);
}

/// <summary>The same contract for <see cref="Embedding"/> layers (input is token ids).</summary>
public interface IEmbeddingAdapter
{
    bool ReplacesBase => false;
    Tensor Apply(Tensor ids, Tensor result, Embedding host);
    void Merge(Embedding host);
    void Unmerge(Embedding host);
    void Detach(Embedding host);
}

/// <summary>An adapter whose behaviour differs between training and evaluation (dropout, training-only paths).</summary>
public interface IHasTrainingMode
{
    bool Training { get; set; }
}

/// <summary>What a PEFT model switches on any module that carries adapters, whatever their type.</summary>
public interface IAdapterSwitches
{
    bool Disabled { get; set; }
    void SetActive(IEnumerable<string> names);
    void MarkMerged(string name, bool isMerged);
}

/// <summary>A module that carries adapters: Linear, Embedding, and the model-level prompt and prefix slots.</summary>
public interface IAdapterHost
{
    IAdapterSwitches Switches { get; }
}

/// <summary>Adapter bookkeeping shared by adaptable layers: attach order, which are active, which are merged.</summary>
public sealed class AdapterSet<TAdapter> : IAdapterSwitches where TAdapter : class
{
    readonly List<(string Name, TAdapter Adapter)> attached = new();
    readonly HashSet<string> merged = new();

    public IReadOnlyList<(string Name, TAdapter Adapter)> All => attached;
    public IReadOnlyCollection<string> Active { get; private set; } = Array.Empty<string>();
    public IReadOnlyCollection<string> Merged => merged;
    /// <summary>Set by a disable-adapters scope: the layer computes its base function only.</summary>
    public bool Disabled { get; set; }

    public void Add(string name, TAdapter adapter)
    {
        if (attached.Any(a => a.Name == name)) throw new PeftSharpException($"adapter '{name}' is already attached to this layer");
        attached.Add((name, adapter));
    }

    public TAdapter? Get(string name) => attached.FirstOrDefault(a => a.Name == name).Adapter;

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

    public void SetActive(IEnumerable<string> names) => Active = names.Where(n => attached.Any(a => a.Name == n)).ToArray();

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
