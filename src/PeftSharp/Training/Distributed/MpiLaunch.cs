namespace PeftSharp.Training.Distributed;

/// <summary>
/// This process's place in an MPI job, read from the variables the launcher sets (Open MPI's mpirun:
/// OMPI_COMM_WORLD_*; PMIx launchers such as prterun or srun --mpi=pmix: PMIX_RANK; MPICH/Hydra and Slurm PMI:
/// PMI_SIZE/PMI_RANK). Without a launcher there is no MPI job: the run is one rank and nothing MPI-related loads.
/// </summary>
/// <param name="Rank">This process's rank in MPI_COMM_WORLD, 0-based.</param>
/// <param name="WorldSize">Processes in the job.</param>
/// <param name="LocalSize">Processes of the job on this machine (they share its cores); 1 when the launcher does not say.</param>
public sealed record MpiLaunch(int Rank, int WorldSize, int LocalSize)
{
    /// <summary>The launch this process is part of, or null when it was not started by an MPI launcher.</summary>
    /// <param name="variable">Reads an environment variable; defaults to <see cref="Environment.GetEnvironmentVariable(string)"/>.</param>
    public static MpiLaunch? Detect(Func<string, string?>? variable = null)
    {
        variable ??= Environment.GetEnvironmentVariable;
        int? Int(string name) => int.TryParse(variable(name), out int v) ? v : null;
        int? size = Int("OMPI_COMM_WORLD_SIZE") ?? Int("PMI_SIZE") ?? Int("PMIX_SIZE");
        int? rank = Int("OMPI_COMM_WORLD_RANK") ?? Int("PMI_RANK") ?? Int("PMIX_RANK");
        if (size is null && rank is null) return null;
        // The rank and size are read from MPI itself once it is initialised; these are what the launcher announced.
        int local = Int("OMPI_COMM_WORLD_LOCAL_SIZE") ?? Int("MPI_LOCALNRANKS") ?? Int("PMI_LOCAL_SIZE") ?? 1;
        return new MpiLaunch(rank ?? 0, size ?? 1, Math.Max(1, local));
    }
}
