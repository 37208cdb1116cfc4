using PeftSharp.Adapters.Lora;
using PeftSharp.Models.Llama;
using PeftSharp.Peft;
using PeftSharp.Tests.Support;

namespace PeftSharp.Tests.Peft;

/// <summary>Shared helpers for the LoRA / DoRA / PeftModel / adapter-folder tests.</summary>
internal static class LoraTestKit
{
    public static readonly string[] Qv = { "q_proj", "v_proj" };

    /// <summary>A 2-layer tiny Llama (hidden 32), random and seeded.</summary>
    public static LlamaForCausalLM Tiny(long seed = 7, ScalarType dtype = ScalarType.Float32, string type = "llama", int hidden = 32) =>
        TinyModels.Random(TinyModels.Config(type) with { HiddenSize = hidden }, seed, dtype);

    public static Tensor Ids() => TinyModels.Ids(new long[] { 1, 5, 9, 23, 42, 7, 88, 3, 60 }, new long[] { 1, 60, 2, 17, 33, 96, 4, 11, 5 });

    public static LoraConfig Config(params string[] targets) => new() { TargetModules = targets.Length == 0 ? Qv : targets, R = 4, LoraAlpha = 8 };

    /// <summary>Logits with no autograd graph.</summary>
    public static Tensor Logits(LlamaForCausalLM model, Tensor? ids = null)
    {
        using var _ = no_grad();
        return model.Forward(ids ?? Ids());
    }

    public static Tensor Logits(PeftModel peft, Tensor? ids = null) => Logits((LlamaForCausalLM)peft.Model, ids);

    /// <summary>Logits in the model's own dtype (Forward casts to fp32, which would spoil fp64 finite differences).</summary>
    public static Tensor RawLogits(LlamaForCausalLM model, Tensor ids) => model.lm_head.forward(model.model.Forward(ids));

    /// <summary>Next-token cross-entropy in the model's dtype.</summary>
    public static Tensor Loss(LlamaForCausalLM model, Tensor ids)
    {
        var logits = RawLogits(model, ids);
        long v = logits.shape[2];
        var pred = logits.narrow(1, 0, ids.shape[1] - 1).reshape(-1, v);
        var target = ids.narrow(1, 1, ids.shape[1] - 1).reshape(-1);
        return nn.functional.cross_entropy(pred, target);
    }

    public static double MaxDiff(Tensor a, Tensor b) => (a.to(ScalarType.Float64) - b.to(ScalarType.Float64)).abs().max().item<double>();

    /// <summary>Gives every parameter of <paramref name="adapter"/> non-zero random values (B included), seeded.</summary>
    public static void Randomize(PeftModel peft, string adapter = "default", long seed = 11, double scale = 0.2)
    {
        using var gen = new Generator().manual_seed(seed);
        using var _ = no_grad();
        foreach (var (path, p) in peft.Model.named_parameters())
        {
            if (!PeftModel.IsAdapterPath(path) || !path.Split('.').Contains(adapter)) continue;
            using var r = randn(p.shape, ScalarType.Float32, generator: gen).to(p.dtype);
            if (path.Contains("lora_magnitude_vector")) p.mul_(1 + 0.2 * r);
            else if (path.Contains("modules_to_save")) p.add_(scale * r);
            else p.copy_(scale * r);
        }
    }

    /// <summary>Detached clones of every parameter, by name.</summary>
    public static Dictionary<string, Tensor> Snapshot(nn.Module m) =>
        m.named_parameters().ToDictionary(p => p.name, p => p.parameter.detach().clone());

    /// <summary>Runs <paramref name="action"/> with warnings captured, restoring the previous handler.</summary>
    public static List<string> CaptureWarnings(Action action)
    {
        var warnings = new List<string>();
        using (PeftSharp.Diagnostics.RedirectWarnings(warnings.Add)) action();
        return warnings;
    }

    /// <summary>The parameter at <paramref name="path"/> (full state_dict-style name).</summary>
    public static Tensor Param(nn.Module m, string path) => m.named_parameters().First(p => p.name == path).parameter;
}
