using PeftSharp.Adapters.Lora;
using PeftSharp.Nn;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftSharp.Peft;

/// <summary>One adapter on one layer: where it sits and how to merge, unmerge and remove it, whatever the layer type.</summary>
public sealed record AttachedAdapter(string ModulePath, nn.Module Host, object Adapter)
{
    public void Merge()
    {
        switch (Host, Adapter)
        {
            case (Linear l, ILinearAdapter a): a.Merge(l); break;
            case (Embedding e, IEmbeddingAdapter a): a.Merge(e); break;
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
        }
    }

    public void SetTraining(bool training)
    {
        if (Adapter is LoraLinear lora) lora.Training = training;
    }
}

/// <summary>A named adapter: its configuration and every layer it is attached to.</summary>
public sealed class AdapterRecord
{
    public string Name { get; }
    public LoraConfig Config { get; }
    public List<AttachedAdapter> Layers { get; } = new();
    public bool Merged { get; internal set; }

    public AdapterRecord(string name, LoraConfig config)
    {
        Name = name;
        Config = config;
    }
}
