using PeftSharp.IO.SafeTensors;
using TorchSharp;

namespace PeftSharp.Quantization;

/// <summary>Raw access to a CPU tensor's elements, for the kernels (no managed copies).</summary>
internal static unsafe class TensorMemory
{
    /// <summary>Pointer to the first element; the tensor must be contiguous, on the CPU and of the given dtype.</summary>
    public static T* Pointer<T>(torch.Tensor tensor, torch.ScalarType expected, string what) where T : unmanaged
    {
        if (tensor.device_type != DeviceType.CPU)
            throw new ArgumentException($"{what} must be on the CPU (is on {tensor.device})");
        if (tensor.dtype != expected)
            throw new ArgumentException($"{what} must be {expected} (is {tensor.dtype})");
        if (!tensor.is_contiguous())
            throw new ArgumentException($"{what} must be contiguous");
        return (T*)TorchNative.THSTensor_data(tensor.Handle);
    }
}

/// <summary>fp32 to bf16 exactly as torch's .to(bfloat16): round to nearest even, NaN to the quiet NaN 0x7FC0.</summary>
internal static class BFloat16Bits
{
    public static ushort FromSingle(float value)
    {
        if (float.IsNaN(value)) return 0x7FC0;
        uint bits = BitConverter.SingleToUInt32Bits(value);
        uint rounding = 0x7FFFu + ((bits >> 16) & 1);
        return (ushort)((bits + rounding) >> 16);
    }

    public static float ToSingle(ushort bits) => BitConverter.UInt32BitsToSingle((uint)bits << 16);
}
