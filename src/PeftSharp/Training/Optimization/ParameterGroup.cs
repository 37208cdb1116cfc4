using TorchSharp.Modules;

namespace PeftSharp.Training.Optimization;

/// <summary>A trainable parameter and the name its state is saved under.</summary>
public sealed record NamedParameter(string Name, Parameter Param);

/// <summary>Parameters that share a weight decay. The optimizer steps (and a paged optimizer transfers) one group at a time.</summary>
public sealed class ParameterGroup
{
    /// <summary>A group; usually made by <see cref="Split"/>.</summary>
    /// <param name="name">"decay" or "no_decay".</param>
    /// <param name="weightDecay">The decay applied to every parameter of the group.</param>
    /// <param name="parameters">The group's parameters, in stepping order.</param>
    public ParameterGroup(string name, double weightDecay, IReadOnlyList<NamedParameter> parameters)
    {
        Name = name;
        WeightDecay = weightDecay;
        Parameters = parameters;
    }

    /// <summary>"decay" or "no_decay".</summary>
    public string Name { get; }
    /// <summary>Decoupled weight decay for this group: the configured value for "decay", 0 for "no_decay".</summary>
    public double WeightDecay { get; }
    /// <summary>The group's parameters, in stepping order.</summary>
    public IReadOnlyList<NamedParameter> Parameters { get; }

    /// <summary>
    /// Splits parameters into a decay group and a no-decay group by <paramref name="rule"/> (default:
    /// <see cref="WeightDecayRules.Default"/>), keeping the given order inside each; empty groups are dropped.
    /// Names must be unique and non-empty, and every parameter must be a floating-point tensor.
    /// </summary>
    public static IReadOnlyList<ParameterGroup> Split(IEnumerable<(string Name, Parameter Param)> parameters,
        double weightDecay, WeightDecayRule? rule = null)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        rule ??= WeightDecayRules.Default;
        var decay = new List<NamedParameter>();
        var noDecay = new List<NamedParameter>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (name, param) in parameters)
        {
            if (string.IsNullOrEmpty(name)) throw new ConfigurationException("optimizer parameters need non-empty names (they key the saved state)");
            ArgumentNullException.ThrowIfNull(param, name);
            if (!seen.Add(name)) throw new ConfigurationException($"parameter '{name}' is given to the optimizer twice; names must be unique");
            if (!param.is_floating_point())
                throw new ConfigurationException($"parameter '{name}' has dtype {param.dtype}; only floating-point parameters can be optimized");
            (rule(name, param) ? decay : noDecay).Add(new NamedParameter(name, param));
        }
        if (seen.Count == 0) throw new ConfigurationException("the optimizer got no parameters; is everything frozen?");
        var groups = new List<ParameterGroup>();
        if (decay.Count > 0) groups.Add(new ParameterGroup("decay", weightDecay, decay));
        if (noDecay.Count > 0) groups.Add(new ParameterGroup("no_decay", 0.0, noDecay));
        return groups;
    }
}
