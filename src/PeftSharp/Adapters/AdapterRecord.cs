using PeftSharp.Nn;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftSharp.Adapters;

/// <summary>One adapter on one module: where it sits and how to merge, unmerge and remove it, whatever the module.</summary>
public sealed record AttachedAdapter(string ModulePath, nn.Module Host, object Adapter)
{
    /// <summary>Folds the adapter into the host's weights.</summary>
    /// <exception cref="ConfigurationException">The adapter cannot be merged (prompt/prefix tuning, bottleneck
    /// adapters).</exception>
    public void Merge()
    {
        switch (Host, Adapter)
        {
            case (Linear l, ILinearAdapter a): a.Merge(l); break;
            case (Embedding e, IEmbeddingAdapter a): a.Merge(e); break;
            default: throw new ConfigurationException($"{Adapter.GetType().Name} on '{ModulePath}' cannot be merged into the base weights: keep it as an adapter");
        }
    }

    /// <summary>
    /// Subtracts a merged adapter from the host's weights again; does nothing for adapters that cannot merge.
    /// </summary>
    public void Unmerge()
    {
        switch (Host, Adapter)
        {
            case (Linear l, ILinearAdapter a): a.Unmerge(l); break;
            case (Embedding e, IEmbeddingAdapter a): a.Unmerge(e); break;
        }
    }

    /// <summary>Removes the adapter's tensors from the host and stops it taking part in forward.</summary>
    public void Detach()
    {
        switch (Host, Adapter)
        {
            case (Linear l, ILinearAdapter a): a.Detach(l); break;
            case (Embedding e, IEmbeddingAdapter a): a.Detach(e); break;
            case (_, IDetachable d): d.Detach(); break;
        }
    }

    /// <summary>
    /// Whether the adapter is a Linear or Embedding adapter, which can be folded into the base weights (a bottleneck
    /// adapter still refuses in <see cref="Merge"/>).
    /// </summary>
    public bool Mergeable => Adapter is ILinearAdapter or IEmbeddingAdapter;

    /// <summary>Switches the adapter's training behaviour (dropout) on or off, when it has any.</summary>
    public void SetTraining(bool training)
    {
        if (Adapter is IHasTrainingMode t) t.Training = training;
    }
}

/// <summary>An adapter that is not a Linear/Embedding adapter (prompt and prefix encoders) and removes itself.</summary>
public interface IDetachable
{
    /// <summary>Removes the adapter's tensors from the model and stops it taking part in forward.</summary>
    void Detach();
}

/// <summary>A named adapter: its configuration, every module it is attached to, and its training rules.</summary>
public sealed class AdapterRecord
{
    /// <summary>The adapter's name (PEFT's adapter_name; "default" unless given).</summary>
    public string Name { get; }
    /// <summary>The configuration the adapter was created or loaded with.</summary>
    public AdapterConfig Config { get; }
    /// <summary>Every module the adapter is attached to, in injection order.</summary>
    public List<AttachedAdapter> Layers { get; } = new();
    /// <summary>
    /// Whether the adapter is currently folded into the base weights (set by PeftModel's merge and unmerge).
    /// </summary>
    public bool Merged { get; set; }
    /// <summary>The method's training-time rules (null for methods without any), made once the layers exist.</summary>
    public IAdapterTraining? Training { get; set; }

    /// <summary>A record with no layers yet; the config's Inject fills <see cref="Layers"/>.</summary>
    public AdapterRecord(string name, AdapterConfig config)
    {
        Name = name;
        Config = config;
    }

    /// <summary>The attached adapters of type <typeparamref name="T"/> with their module paths.</summary>
    public IEnumerable<(string Path, T Adapter)> Of<T>() => Layers.Where(l => l.Adapter is T).Select(l => (l.ModulePath, (T)l.Adapter));
}
