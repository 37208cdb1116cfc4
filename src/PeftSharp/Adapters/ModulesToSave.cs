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
    /// <summary>The trainable copy of the layer's weight (fp32, or fp64 on an fp64 base).</summary>
    public Parameter weight;
    /// <summary>The trainable copy of the layer's bias, or null when the layer has none.</summary>
    public Parameter? bias;
#pragma warning restore IDE1006

    /// <summary>
    /// Copies <paramref name="w"/> and <paramref name="b"/> (detached, converted to the adapter dtype) as new trainable
    /// parameters.
    /// </summary>
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

/// <summary>
/// modules_to_save on a Linear (e.g. a classifier's score head): the layer's output is computed from the adapter's full
/// copy instead of the frozen base weight.
/// </summary>
public sealed class LinearToSave : ILinearAdapter
{
    /// <summary>The adapter name it is registered under on the host layer.</summary>
    public string Name { get; }
    /// <summary>The trainable copy, registered as <c>modules_to_save.&lt;adapter&gt;</c>.</summary>
    public FullCopy Copy { get; }
    readonly CopySwap swap = new();

    /// <summary>
    /// Copies <paramref name="host"/>'s weight and bias and registers the copy as adapter <paramref name="name"/>.
    /// </summary>
    public LinearToSave(Linear host, string name)
    {
        Name = name;
        Copy = new FullCopy(host.weight, host.bias);
        ModuleSlots.On(host, "modules_to_save").AddModule(name, Copy);
        host.Adapters.Add(name, this);
    }

    /// <summary>Always true: the copy computes the whole output.</summary>
    public bool ReplacesBase => true;
    /// <summary>
    /// x through the copy's weight and bias (in the copy's dtype); <paramref name="result"/> is not used.
    /// </summary>
    public Tensor Apply(Tensor x, Tensor result, Linear host) => nn.functional.linear(x.to(Copy.weight.dtype), Copy.weight, Copy.bias);
    /// <summary>
    /// Writes the copy into the host's weight and bias, keeping the originals for <see cref="Unmerge"/>.
    /// </summary>
    public void Merge(Linear host) => swap.Merge(host.weight, host.bias, Copy);
    /// <summary>Restores the host's original weight and bias (nothing happens if it was not merged).</summary>
    public void Unmerge(Linear host) => swap.Unmerge(host.weight, host.bias);

    /// <inheritdoc/>
    public void Detach(Linear host)
    {
        host.Adapters.Remove(Name);
        ModuleSlots.RemoveFrom(host, Name, "modules_to_save");
    }
}

/// <summary>
/// modules_to_save on an Embedding: lookups read the adapter's full copy of the table instead of the frozen base one.
/// </summary>
public sealed class EmbeddingToSave : IEmbeddingAdapter
{
    /// <summary>The adapter name it is registered under on the host table.</summary>
    public string Name { get; }
    /// <summary>The trainable copy of the table, registered as <c>modules_to_save.&lt;adapter&gt;</c>.</summary>
    public FullCopy Copy { get; }
    readonly CopySwap swap = new();

    /// <summary>
    /// Copies <paramref name="host"/>'s table and registers the copy as adapter <paramref name="name"/>.
    /// </summary>
    public EmbeddingToSave(Embedding host, string name)
    {
        Name = name;
        Copy = new FullCopy(host.weight, null);
        ModuleSlots.On(host, "modules_to_save").AddModule(name, Copy);
        host.Adapters.Add(name, this);
    }

    /// <summary>Always true: the copy computes the whole output.</summary>
    public bool ReplacesBase => true;
    /// <summary>
    /// The rows of the copied table for <paramref name="ids"/>; <paramref name="result"/> is not used.
    /// </summary>
    public Tensor Apply(Tensor ids, Tensor result, Embedding host) => Embedding.Lookup(Copy.weight, ids);
    /// <summary>Writes the copy into the host's table, keeping the original for <see cref="Unmerge"/>.</summary>
    public void Merge(Embedding host) => swap.Merge(host.weight, null, Copy);
    /// <summary>Restores the host's original table (nothing happens if it was not merged).</summary>
    public void Unmerge(Embedding host) => swap.Unmerge(host.weight, null);

    /// <inheritdoc/>
    public void Detach(Embedding host)
    {
        host.Adapters.Remove(Name);
        ModuleSlots.RemoveFrom(host, Name, "modules_to_save");
    }
}
