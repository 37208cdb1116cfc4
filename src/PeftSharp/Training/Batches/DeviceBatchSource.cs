using TorchSharp;
using static TorchSharp.torch;

namespace PeftSharp.Training.Batches;

/// <summary>
/// Batches are built on the CPU (tokenizing, packing and padding are host work); this hands them to the model on its
/// device. On the CPU it is not used at all (<c>For</c> returns the source itself).
/// </summary>
public sealed class DeviceBatchSource : IBatchSource
{
    readonly IBatchSource inner;
    readonly Device device;

    DeviceBatchSource(IBatchSource inner, Device device)
    {
        this.inner = inner;
        this.device = device;
    }

    /// <summary><paramref name="source"/> with every batch moved to <paramref name="device"/>; the source itself on the CPU.</summary>
    public static IBatchSource For(IBatchSource source, Device device) =>
        device.type == DeviceType.CPU || source is DeviceBatchSource ? source : new DeviceBatchSource(source, device);

    /// <summary>The same source, batches on the device of <paramref name="model"/>'s parameters.</summary>
    public static IBatchSource For(IBatchSource source, nn.Module model) => For(source, ComputeDevice.Of(model));

    /// <inheritdoc/>
    public int BatchesPerEpoch => inner.BatchesPerEpoch;

    /// <inheritdoc/>
    public IEnumerable<TrainingBatch> Epoch(int epoch)
    {
        foreach (var b in inner.Epoch(epoch))
        {
            using (b) yield return b.To(device);
        }
    }

    /// <inheritdoc/>
    public IEnumerable<(int Index, TrainingBatch Batch)> Epoch(int epoch, Func<int, bool> include)
    {
        // The inner source builds only this rank's batches; each one moves as it is taken.
        foreach (var (index, b) in inner.Epoch(epoch, include))
        {
            using (b) yield return (index, b.To(device));
        }
    }
}
