namespace PeftSharp.Tests.Support;

/// <summary>
/// Tests that depend on torch's process-wide random generator (dropout masks, seeded training runs compared bit for
/// bit). Other test classes run in parallel and draw from the same generator, so these run alone.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class GlobalRngCollection
{
    public const string Name = "global torch RNG";
}
