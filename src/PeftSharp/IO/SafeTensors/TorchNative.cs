using System.Runtime.InteropServices;

namespace PeftSharp.IO.SafeTensors;

/// <summary>
/// The few LibTorchSharp entry points TorchSharp 0.107 does not expose publicly. Signatures copied from
/// TorchSharp.PInvoke.NativeMethods of 0.107.0 (checked by reflection); call only after TorchSharp has loaded
/// its native library (any torch call does that).
/// </summary>
internal static unsafe class TorchNative
{
    private const string Lib = "LibTorchSharp";

    /// <summary>Pointer to the tensor's first element (storage offset included).</summary>
    [DllImport(Lib)]
    public static extern IntPtr THSTensor_data(IntPtr handle);

    /// <summary>
    /// torch::from_blob(data, sizes, deleter) with dtype <paramref name="type"/>; converts to
    /// <paramref name="dtype"/> and moves to the device only when they differ from the source (CPU = 0).
    /// Returns IntPtr.Zero on error (see <see cref="THSTorch_get_and_reset_last_err"/>).
    /// </summary>
    [DllImport(Lib)]
    public static extern IntPtr THSTensor_new(IntPtr rawArray, delegate* unmanaged[Cdecl]<IntPtr, void> deleter,
        long* dimensions, int numDimensions, sbyte type, sbyte dtype, int deviceType, int deviceIndex,
        [MarshalAs(UnmanagedType.U1)] bool requiresGrad);

    [DllImport(Lib)]
    public static extern IntPtr THSTorch_get_and_reset_last_err();

    public static string LastError()
    {
        IntPtr error = THSTorch_get_and_reset_last_err();
        return error == IntPtr.Zero ? "unknown libtorch error" : Marshal.PtrToStringUTF8(error) ?? "unknown libtorch error";
    }
}
