using System.Runtime.InteropServices;

namespace PeftSharp.Training.Distributed;

/// <summary>
/// Thin bindings to Open MPI's C library (libmpi.so.40), resolved at run time: the functions by name, and the
/// predefined handles (MPI_COMM_WORLD, MPI_FLOAT, MPI_SUM, ...), which in Open MPI are the addresses of global
/// symbols (ompi_mpi_comm_world, ompi_mpi_float, ompi_mpi_op_sum, ...). The library is opened with RTLD_GLOBAL,
/// because Open MPI's plugins resolve their symbols against it.
/// </summary>
internal sealed unsafe class MpiLibrary
{
    /// <summary>The Debian/Ubuntu packages that provide libmpi.so.40 and mpirun.</summary>
    public const string Packages = "openmpi-bin libopenmpi-dev";
    /// <summary>Names an Open MPI library to load instead of the system's (an install outside the linker's path).</summary>
    public const string Variable = "PEFTSHARP_MPI_LIBRARY";
    static readonly string[] Candidates = ["libmpi.so.40", "libmpi.so"];
    const int RtldNow = 2, RtldGlobal = 0x100;
    /// <summary>MPI_THREAD_MULTIPLE in Open MPI's mpi.h: any thread may call MPI (the watchdog aborts from its own thread).</summary>
    public const int ThreadMultiple = 3;
    /// <summary>MPI_IN_PLACE in Open MPI's mpi.h.</summary>
    public static readonly IntPtr InPlace = 1;

    [DllImport("libc.so.6", EntryPoint = "dlopen")]
    static extern IntPtr DlOpen(string file, int mode);

    [DllImport("libc.so.6", EntryPoint = "dlerror")]
    static extern IntPtr DlError();

    public readonly delegate* unmanaged<int*, byte***, int, int*, int> Init_thread;
    public readonly delegate* unmanaged<int*, int> Initialized;
    public readonly delegate* unmanaged<int*, int> Finalized;
    public readonly delegate* unmanaged<int> Finalize;
    public readonly delegate* unmanaged<IntPtr, int*, int> Comm_rank;
    public readonly delegate* unmanaged<IntPtr, int*, int> Comm_size;
    public readonly delegate* unmanaged<IntPtr, IntPtr, int, IntPtr, IntPtr, IntPtr, int> Allreduce;
    public readonly delegate* unmanaged<IntPtr, int, IntPtr, int, IntPtr, int> Bcast;
    public readonly delegate* unmanaged<IntPtr, int> Barrier;
    public readonly delegate* unmanaged<IntPtr, int, int> Abort;
    public readonly delegate* unmanaged<int, byte*, int*, int> Error_string;

    /// <summary>MPI_COMM_WORLD.</summary>
    public readonly IntPtr CommWorld;
    /// <summary>MPI_FLOAT (float32).</summary>
    public readonly IntPtr Float;
    /// <summary>MPI_DOUBLE (float64).</summary>
    public readonly IntPtr Double;
    /// <summary>MPI_INT64_T.</summary>
    public readonly IntPtr Int64;
    /// <summary>MPI_UINT16_T: bfloat16 travels as its bit pattern (broadcast only: summing bit patterns means nothing).</summary>
    public readonly IntPtr UInt16;
    /// <summary>MPI_SUM.</summary>
    public readonly IntPtr Sum;

    /// <summary>Where the library was found.</summary>
    public string Path { get; }

    MpiLibrary(string path, IntPtr handle)
    {
        Path = path;
        IntPtr F(string name) => NativeLibrary.TryGetExport(handle, name, out var p) ? p
            : throw new PeftSharpException($"{path} has no symbol {name}: it is not Open MPI 4 or later; install Open MPI ({Packages})");
        Init_thread = (delegate* unmanaged<int*, byte***, int, int*, int>)F("MPI_Init_thread");
        Initialized = (delegate* unmanaged<int*, int>)F("MPI_Initialized");
        Finalized = (delegate* unmanaged<int*, int>)F("MPI_Finalized");
        Finalize = (delegate* unmanaged<int>)F("MPI_Finalize");
        Comm_rank = (delegate* unmanaged<IntPtr, int*, int>)F("MPI_Comm_rank");
        Comm_size = (delegate* unmanaged<IntPtr, int*, int>)F("MPI_Comm_size");
        Allreduce = (delegate* unmanaged<IntPtr, IntPtr, int, IntPtr, IntPtr, IntPtr, int>)F("MPI_Allreduce");
        Bcast = (delegate* unmanaged<IntPtr, int, IntPtr, int, IntPtr, int>)F("MPI_Bcast");
        Barrier = (delegate* unmanaged<IntPtr, int>)F("MPI_Barrier");
        Abort = (delegate* unmanaged<IntPtr, int, int>)F("MPI_Abort");
        Error_string = (delegate* unmanaged<int, byte*, int*, int>)F("MPI_Error_string");
        CommWorld = F("ompi_mpi_comm_world");
        Float = F("ompi_mpi_float");
        Double = F("ompi_mpi_double");
        Int64 = F("ompi_mpi_int64_t");
        UInt16 = F("ompi_mpi_uint16_t");
        Sum = F("ompi_mpi_op_sum");
    }

    /// <summary>Opens libmpi.so.40 (Open MPI), or the library <see cref="Variable"/> names.</summary>
    /// <exception cref="PeftSharpException">The library is not installed (the message names the packages to install).</exception>
    public static MpiLibrary Load()
    {
        var errors = new List<string>();
        var chosen = Environment.GetEnvironmentVariable(Variable);
        foreach (var name in string.IsNullOrEmpty(chosen) ? Candidates : [chosen])
        {
            var handle = DlOpen(name, RtldNow | RtldGlobal);
            if (handle != IntPtr.Zero) return new MpiLibrary(name, handle);
            errors.Add(Marshal.PtrToStringUTF8(DlError()) ?? name);
        }
        throw new PeftSharpException(
            $"this run was started by an MPI launcher but Open MPI's library (libmpi.so.40) could not be loaded ({string.Join("; ", errors)}): " +
            $"install it with 'apt-get install {Packages}' (or name another Open MPI's libmpi.so.40 in {Variable}), or run without mpirun for a single-process run");
    }

    /// <summary>Throws with MPI's own description when <paramref name="code"/> is not MPI_SUCCESS (0).</summary>
    public void Check(int code, string what)
    {
        if (code == 0) return;
        var text = stackalloc byte[256]; // MPI_MAX_ERROR_STRING in Open MPI
        int length = 0;
        string detail = Error_string(code, text, &length) == 0 ? System.Text.Encoding.UTF8.GetString(text, length) : $"error code {code}";
        throw new PeftSharpException($"{what} failed: {detail}");
    }
}
