using System.Reflection;
using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace PeftSharp.Nn;

/// <summary>
/// A named container of submodules (or parameters) that can grow and shrink after its parent was built, so adapters
/// attach under checkpoint-style paths such as <c>q_proj.lora_A.default.weight</c>. TorchSharp's ModuleDict does not
/// register items added later, and 0.107 has no public way to unregister, so removal edits the module's registry.
/// </summary>
public sealed class ModuleSlots : nn.Module
{
    static readonly FieldInfo Submodules = typeof(nn.Module).GetField("_internal_submodules", BindingFlags.NonPublic | BindingFlags.Instance)
        ?? throw new MissingFieldException("TorchSharp.nn.Module._internal_submodules (TorchSharp version changed)");
    static readonly FieldInfo Params = typeof(nn.Module).GetField("_internal_params", BindingFlags.NonPublic | BindingFlags.Instance)
        ?? throw new MissingFieldException("TorchSharp.nn.Module._internal_params (TorchSharp version changed)");

    readonly Device device;

    /// <summary>
    /// An empty container; <paramref name="name"/> is its module name (e.g. "lora_A"). What is added moves to
    /// <paramref name="device"/> (the host's; default CPU).
    /// </summary>
    public ModuleSlots(string name, Device? device = null) : base(name) => this.device = device ?? CPU;

    /// <summary>
    /// Registers <paramref name="module"/> under <paramref name="key"/> (e.g. the adapter name "default"), so its
    /// parameters appear in state_dict as slot.key.*. Adapters are built on the CPU (their seeded init is the same on
    /// every device) and move here to their host's device.
    /// </summary>
    public void AddModule(string key, nn.Module module)
    {
        if (device.type != DeviceType.CPU) module.to(device);
        register_module(key, module);
    }

    /// <summary>
    /// Registers <paramref name="parameter"/> under <paramref name="key"/>, so it appears in state_dict as slot.key.
    /// Returns the registered parameter: a new one on the host's device when the host is not on the CPU.
    /// </summary>
    public Parameter AddParameter(string key, Parameter parameter)
    {
        if (device.type != DeviceType.CPU && parameter.device_type != device.type)
        {
            using (no_grad())
            {
                var moved = new Parameter(parameter.to(device), parameter.requires_grad);
                parameter.Dispose();
                parameter = moved;
            }
        }
        register_parameter(key, parameter);
        return parameter;
    }

    /// <summary>The submodule registered under <paramref name="key"/>, cast to <typeparamref name="T"/>.</summary>
    /// <exception cref="InvalidOperationException">No submodule has that key.</exception>
    /// <exception cref="InvalidCastException">It is not a <typeparamref name="T"/>.</exception>
    public T GetModule<T>(string key) where T : nn.Module =>
        (T)named_children().First(c => c.name == key).module;

    /// <summary>The parameter registered directly under <paramref name="key"/>.</summary>
    /// <exception cref="InvalidOperationException">No parameter has that key.</exception>
    public Parameter GetParameter(string key) => named_parameters(recurse: false).First(p => p.name == key).parameter;

    /// <summary>True when a submodule or a direct parameter is registered under <paramref name="key"/>.</summary>
    public bool Has(string key) => named_children().Any(c => c.name == key) || named_parameters(recurse: false).Any(p => p.name == key);

    /// <summary>True when nothing is registered (the container can be dropped from its host).</summary>
    public bool IsEmpty => !named_children().Any() && !named_parameters(recurse: false).Any();

    /// <summary>Unregisters and disposes the entry.</summary>
    public void Remove(string key)
    {
        var mods = (OrderedDict<string, nn.Module>)Submodules.GetValue(this)!;
        if (mods.ContainsKey(key))
        {
            var m = mods[key];
            mods.Remove(key);
            m.Dispose();
        }
        var ps = (OrderedDict<string, Parameter>)Params.GetValue(this)!;
        if (ps.ContainsKey(key))
        {
            var p = ps[key];
            ps.Remove(key);
            p.Dispose();
        }
    }

    /// <summary>Slots named <paramref name="slot"/> on <paramref name="host"/>, created on first use.</summary>
    public static ModuleSlots On(nn.Module host, string slot)
    {
        var existing = host.named_children().FirstOrDefault(c => c.name == slot).module;
        if (existing is ModuleSlots s) return s;
        if (existing is not null) throw new InvalidOperationException($"'{slot}' is already a submodule of {host.GetName()}");
        var created = new ModuleSlots(slot, host.parameters().FirstOrDefault()?.device);
        host.register_module(slot, created);
        return created;
    }

    /// <summary>Removes <paramref name="key"/> from each named slot container on the host, dropping containers left empty.</summary>
    public static void RemoveFrom(nn.Module host, string key, params string[] slots)
    {
        foreach (var slot in slots)
        {
            if (host.named_children().FirstOrDefault(c => c.name == slot).module is not ModuleSlots s) continue;
            if (s.Has(key)) s.Remove(key);
            DropIfEmpty(host, slot);
        }
    }

    /// <summary>Removes an empty slot container from its host, so a model without adapters has no leftover names.</summary>
    public static void DropIfEmpty(nn.Module host, string slot)
    {
        var mods = (OrderedDict<string, nn.Module>)Submodules.GetValue(host)!;
        if (mods.ContainsKey(slot) && mods[slot] is ModuleSlots { IsEmpty: true } s)
        {
            mods.Remove(slot);
            s.Dispose();
        }
    }
}
