using static TorchSharp.torch;

namespace PeftSharp.Training.Optimization;

/// <summary>
/// Checks a state dict against an optimizer's own state before anything is copied, so a wrong file fails whole
/// with a message naming the offending keys (torch's load_state_dict would broadcast and cast silently).
/// </summary>
internal static class StateDictCheck
{
    public static void Validate(IReadOnlyDictionary<string, Tensor> state, IReadOnlyList<(string Key, Tensor Tensor)> expected,
        string source, string optimizerType)
    {
        if (!state.TryGetValue(AdamWOptimizerBase.StepKey, out var step))
            throw new PeftSharpException($"{source}: no '{AdamWOptimizerBase.StepKey}' entry; this is not an optimizer state dict");
        if (step.numel() != 1 || step.dtype != ScalarType.Int64 || step.item<long>() < 0)
            throw new PeftSharpException($"{source}: '{AdamWOptimizerBase.StepKey}' must be one non-negative int64, found {step.dtype} {Shape(step)}");

        var expectedKeys = expected.Select(e => e.Key).Append(AdamWOptimizerBase.StepKey).ToHashSet(StringComparer.Ordinal);
        var missing = expected.Select(e => e.Key).Where(k => !state.ContainsKey(k)).ToList();
        var extra = state.Keys.Where(k => !expectedKeys.Contains(k)).OrderBy(k => k, StringComparer.Ordinal).ToList();
        if (missing.Count > 0 || extra.Count > 0)
            throw new PeftSharpException($"{source}: the saved state does not belong to these {optimizerType} parameters; "
                + (missing.Count > 0 ? $"missing {List(missing)}" : "")
                + (missing.Count > 0 && extra.Count > 0 ? "; " : "")
                + (extra.Count > 0 ? $"unexpected {List(extra)}" : "")
                + ". Build the optimizer over the same named parameters (and the same optimizer type) as the saved run.");

        foreach (var (key, live) in expected)
        {
            var saved = state[key];
            if (!saved.shape.SequenceEqual(live.shape))
                throw new PeftSharpException($"{source}: '{key}' has shape {Shape(saved)} but the parameter's state has {Shape(live)}; "
                    + "the parameter changed shape since the state was saved (different rank or model?)");
            if (saved.dtype != live.dtype)
                throw new PeftSharpException($"{source}: '{key}' is {saved.dtype} but this {optimizerType} keeps it as {live.dtype}; "
                    + "the state was saved by a different optimizer type");
        }
    }

    static string Shape(Tensor t) => "[" + string.Join(", ", t.shape) + "]";

    static string List(IReadOnlyList<string> keys) =>
        string.Join(", ", keys.Take(5).Select(k => $"'{k}'")) + (keys.Count > 5 ? $" and {keys.Count - 5} more" : "");
}
