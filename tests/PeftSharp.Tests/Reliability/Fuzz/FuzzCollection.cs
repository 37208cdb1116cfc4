namespace PeftSharp.Tests.Reliability.Fuzz;

/// <summary>
/// The reader fuzz tests run by themselves. They allocate about a gigabyte per format in a second or two, so the GC
/// runs every few milliseconds; TorchSharp 0.107 does not keep the Scalar it makes for `tensor + 1e-5` alive during the
/// native call, and a collection in that window frees it mid-call (libtorch then fails "Expected false to be true" in
/// Scalar::toFloat). Beside them, tests that do such arithmetic failed now and then; alone they cost ~15 s of suite time.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class FuzzCollection
{
    public const string Name = "reader fuzz (allocation-heavy)";
}
