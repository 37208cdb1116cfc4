using PeftSharp.Nn;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftSharp.Adapters;

/// <summary>One adapter on one module: where it sits and how to merge, unmerge and remove it, whatever the module.</summary>
public sealed record AttachedAdapter(string ModulePath, nn.Module Host, object Adapter)
{
    public void Merge()
    {
        switch (Host, Adapter)
        {
            case (Linear l, ILinearAdapter a): a.Merge(l); break;
            case (Embedding e, IEmbeddingAdapter a): a.Merge(e); break;
            default: throw new ConfigurationException($"{Adapter.GetType().Name} on '{ModulePath}' cannot be merged into the base weights: keep it as an adapter");
        }
    }

    public void Unmerge()
    {
        switch (Host, Adapter)
        {
            case (Linear l, ILinearAdapter a): a.Unmerge(l); break;
            case (Embedding e, IEmbeddingAdapter a): a.Unmerge(e); break;
        }
    }

    public void Detach()
    {
        switch (Host, Adapter)
        {
            case (Linear l, ILinearAdapter a): a.Detach(l); break;
            case (Embedding e, IEmbeddingAdapter a): a.Detach(e); break;
            case (_, IDetachable d): d.Detach(); break;
        }
    }

    public bool Mergeable => Adapter is ILinearAdapter or IEmbeddingAdapter;

    public void SetTraining(bool training)
    {
        if (Adapter is IHasTrainingMode t) t.Training = training;
    }
}

/// <summary>An adapter that is not a Linear/Embedding adapter (prompt and prefix encoders) and removes itself.</summary>
public interface IDetachable
{
    void Detach();
}

/// <summary>A named adapter: its configuration, every module it is attached to, and its training rules.</summary>
public sealed class AdapterRecord
{
    public string Name { get; }
    public AdapterConfig Config { get; }
    public List<AttachedAdapter> Layers { get; } = new();
    public bool Merged { get; set; }
    /// <summary>The method's training-time rules (null for methods without any), made once the layers exist.</summary>
    public IAdapterTraining? Training { get; set; }

    public AdapterRecord(string name, AdapterConfig config)
    {
        Name = name;
        Config = config;
    }

    /// <summary>The attached adapters of type <typeparamref name="T"/> with their module paths.</summary>
    public IEnumerable<(string Path, T Adapter)> Of<T>() => Layers.Where(l => l.Adapter is T).Select(l => (l.ModulePath, (T)l.Adapter));
}
