using PeftSharp.Nn;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using Embedding = PeftSharp.Nn.Embedding;
using Linear = PeftSharp.Nn.Linear;

namespace PeftSharp.Adapters;

/// <summary>
/// PEFT's modules_to_save: a full trainable fp32 copy of a layer (e.g. a classification head) that replaces the base
/// layer while its adapter is active. Registered as <c>modules_to_save.&lt;adapter&gt;.weight</c> (and bias).
/// </summary>
public sealed class FullCopy : nn.Module
{
#pragma warning disable IDE1006 // checkpoint names
    public Parameter weight;
    public Parameter? bias;
#pragma warning restore IDE1006

    public FullCopy(Tensor w, Tensor? b) : base("modules_to_save")
    {
        var dtype = Lora.AdapterDType.For(w.dtype);
        weight = new Parameter(w.detach().to(dtype).clone());
        bias = b is null ? null : new Parameter(b.detach().to(dtype).clone());
        RegisterComponents();
    }
}

/// <summary>Merging a full copy writes it into the base; unmerging puts the original back.</summary>
sealed class CopySwap
{
    Tensor? original;
    Tensor? originalBias;

    public void Merge(Tensor weight, Tensor? bias, FullCopy copy)
    {
        using var _ = no_grad();
        original = weight.detach().clone().DetachFromDisposeScope();
        originalBias = bias?.detach().clone().DetachFromDisposeScope();
        weight.copy_(copy.weight);
        if (bias is not null && copy.bias is not null) bias.copy_(copy.bias);
    }

    public void Unmerge(Tensor weight, Tensor? bias)
    {
        using var _ = no_grad();
        if (original is null) return;
        weight.copy_(original);
        if (bias is not null && originalBias is not null) bias.copy_(originalBias);
        original.Dispose();
        originalBias?.Dispose();
        original = originalBias = null;
    }
}

public sealed class LinearToSave : ILinearAdapter
{
    public string Name { get; }
    public FullCopy Copy { get; }
    readonly CopySwap swap = new();

    public LinearToSave(Linear host, string name)
    {
        Name = name;
        Copy = new FullCopy(host.weight, host.bias);
        ModuleSlots.On(host, "modules_to_save").AddModule(name, Copy);
        host.Adapters.Add(name, this);
    }

    public bool ReplacesBase => true;
    public Tensor Apply(Tensor x, Tensor result, Linear host) => nn.functional.linear(x.to(Copy.weight.dtype), Copy.weight, Copy.bias);
    public void Merge(Linear host) => swap.Merge(host.weight, host.bias, Copy);
    public void Unmerge(Linear host) => swap.Unmerge(host.weight, host.bias);

    public void Detach(Linear host)
    {
        host.Adapters.Remove(Name);
        ModuleSlots.RemoveFrom(host, Name, "modules_to_save");
    }
}

public sealed class EmbeddingToSave : IEmbeddingAdapter
{
    public string Name { get; }
    public FullCopy Copy { get; }
    readonly CopySwap swap = new();

    public EmbeddingToSave(Embedding host, string name)
    {
        Name = name;
        Copy = new FullCopy(host.weight, null);
        ModuleSlots.On(host, "modules_to_save").AddModule(name, Copy);
        host.Adapters.Add(name, this);
    }

    public bool ReplacesBase => true;
    public Tensor Apply(Tensor ids, Tensor result, Embedding host) => Embedding.Lookup(Copy.weight, ids);
    public void Merge(Embedding host) => swap.Merge(host.weight, null, Copy);
    public void Unmerge(Embedding host) => swap.Unmerge(host.weight, null);

    public void Detach(Embedding host)
    {
        host.Adapters.Remove(Name);
        ModuleSlots.RemoveFrom(host, Name, "modules_to_save");
    }
}
