using TorchSharp;
using System.Text.RegularExpressions;
using static TorchSharp.torch;

namespace PeftSharp;

/// <summary>
/// The device a model computes on, from the spelling users give (<c>--device</c>, <c>device:</c>): <c>cpu</c>,
/// <c>cuda</c> (= <c>cuda:0</c>), <c>cuda:N</c>, or <c>auto</c> (the first GPU when torch sees one, else the CPU).
/// A GPU needs the CUDA build of TorchSharp (<c>-p:PeftSharpTorchBackend=cuda</c>, docs/howto/cuda.md).
/// </summary>
public static partial class ComputeDevice
{
    [GeneratedRegex(@"^(cpu|auto|cuda(:(\d{1,3}))?)$")]
    private static partial Regex Spelling();

    /// <summary>The device <paramref name="spec"/> names, checked against what torch can see.</summary>
    /// <exception cref="ConfigurationException">An unknown spelling, or a GPU this process cannot use.</exception>
    public static Device Parse(string? spec)
    {
        var s = (spec ?? "cpu").Trim().ToLowerInvariant();
        var m = Spelling().Match(s);
        if (!m.Success)
            throw new ConfigurationException($"device '{spec}' is not one of cpu, cuda, cuda:N or auto (e.g. --device cuda:0)");
        // No TorchRuntime.EnsureInitialized here: config reading must not fix the thread count before an MPI rank
        // knows how many processes share the machine.
        if (s == "cpu") return CPU;
        bool available = cuda.is_available();
        if (s == "auto") return available ? CUDA : CPU;
        if (!available)
            throw new ConfigurationException(
                $"device '{spec}' asked for, but torch sees no CUDA GPU (a TorchSharp-cpu build, the default, has no CUDA support; " +
                "a CUDA build also needs an NVIDIA GPU and driver). Build with `dotnet build -c Release -p:PeftSharpTorchBackend=cuda` on a machine with an NVIDIA driver (docs/howto/cuda.md), or run on the CPU (--device cpu; device: cpu in a config)");
        int index = m.Groups[3].Success ? int.Parse(m.Groups[3].Value, System.Globalization.CultureInfo.InvariantCulture) : 0;
        int count = cuda.device_count();
        if (index >= count)
            throw new ConfigurationException($"device '{spec}' does not exist: torch sees {count} GPU(s), cuda:0 to cuda:{count - 1}");
        return new Device(DeviceType.CUDA, index);
    }

    /// <summary>The device of a module's first parameter or buffer (CPU for a module with none).</summary>
    public static Device Of(TorchSharp.torch.nn.Module module) =>
        module.parameters().FirstOrDefault()?.device ?? module.buffers().FirstOrDefault()?.device ?? CPU;
}

/// <summary>
/// Makes tensors created without an explicit device land on a chosen device while a model is built, so a
/// model's parameters are born on its GPU (no CPU copy, and tied weights stay one tensor). TorchSharp's default device
/// is process-wide, so the scope holds a lock, and does nothing at all for the CPU.
/// </summary>
public sealed class DefaultDeviceScope : IDisposable
{
    static readonly object Gate = new();
    readonly Device? previous;

    DefaultDeviceScope(Device device)
    {
        if (device.type == DeviceType.CPU) return;
        Monitor.Enter(Gate);
        previous = get_default_device();
        set_default_device(device);
    }

    /// <summary>Sets the default device until disposed (a no-op for the CPU).</summary>
    public static DefaultDeviceScope On(Device device) => new(device);

    /// <summary>Restores the previous default device.</summary>
    public void Dispose()
    {
        if (previous is null) return;
        set_default_device(previous);
        Monitor.Exit(Gate);
    }
}
