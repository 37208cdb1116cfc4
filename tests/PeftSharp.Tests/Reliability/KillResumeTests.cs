using PeftSharp.Tests.Support;
using PeftSharp.Training;

namespace PeftSharp.Tests.Reliability;

/// <summary>
/// Crash safety: training processes are killed with SIGKILL at random points (inside steps, inside checkpoint writes,
/// between a checkpoint and its pointer, during the final save, at random times) and resumed with --resume until they
/// finish. After every kill every checkpoint must load, and every finished run's adapter must be byte-for-byte the
/// adapter of a run that was never interrupted. PEFTSHARP_KILL_RUNS sets the number of kills (default 20).
/// </summary>
public class KillResumeTests(ITestOutputHelper output)
{
    static readonly (string Point, int MaxCount)[] Points =
    {
        ("step", 10), ("checkpoint-write", 4), ("folder-commit", 4), ("checkpoint-pointer", 4),
        ("atomic-file-rename", 24), ("final-save", 1),
    };

    [Fact]
    public void Runs_killed_at_random_points_resume_to_the_bitwise_identical_adapter()
    {
        int kills = int.TryParse(Environment.GetEnvironmentVariable("PEFTSHARP_KILL_RUNS"), out var k) ? k : 20;
        using var dir = Fixtures.NewTempDir();
        var reference = dir.File("reference");
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var first = CliProcess.Run(dir.Path, null, null, "train", TrainingRunKit.WriteConfig(dir.Path, reference, steps: 12));
        int runMs = (int)clock.ElapsedMilliseconds; // timed kills land anywhere in a run, however fast this machine is
        Assert.True(first.ExitCode == 0, first.Output);
        var expected = TrainingRunKit.FinalAdapter(reference);

        var rng = new Random(20261123);
        int killed = 0, finished = 0, processes = 1;
        var where = new Dictionary<string, int>();
        while (killed < kills)
        {
            var run = dir.File($"run-{finished}");
            var config = TrainingRunKit.WriteConfig(dir.Path, run, steps: 12);
            while (true)
            {
                // Each kind of kill in turn (a point, or a random moment), each at a random occurrence. The kind moves on
                // only after a kill: one that came too late for a resumed run gets the next, fresh run instead.
                bool timed = killed % (Points.Length + 1) == Points.Length;
                var (point, count) = Points[killed % (Points.Length + 1) % Points.Length];
                var env = timed ? null : new Dictionary<string, string> { [FaultPoint.Variable] = $"{point}:{rng.Next(1, count + 1)}" };
                TimeSpan? after = timed ? TimeSpan.FromMilliseconds(rng.Next(runMs / 10, runMs / 2)) : null;
                bool resume = new CheckpointStore(run, 2).List().Count > 0;
                var result = CliProcess.Run(dir.Path, env, after, resume ? ["train", config, "--resume"] : ["train", config]);
                processes++;
                if (result.Killed)
                {
                    killed++;
                    var label = timed ? "timed" : point;
                    where[label] = where.GetValueOrDefault(label) + 1;
                    TrainingRunKit.AssertCheckpointsLoad(run);
                    continue;
                }
                Assert.True(result.ExitCode == 0, $"{string.Join(",", env ?? new())} {result.Output}");
                break;
            }
            finished++;
            var actual = TrainingRunKit.FinalAdapter(run);
            foreach (var (name, bytes) in expected)
                Assert.True(bytes.AsSpan().SequenceEqual(actual[name]), $"{run}/{name} differs from the uninterrupted run's");
            Assert.DoesNotContain(Directory.EnumerateFileSystemEntries(run), e => Path.GetFileName(e).StartsWith('.')); // no temp or trash left
            Assert.False(File.Exists(Path.Combine(run, OutputDirLock.FileName)), "the lock outlived its run");
        }
        var summary = $"{killed} kills ({string.Join(", ", where.Select(w => $"{w.Key} {w.Value}"))}), {finished} resumed runs finished identical, {processes} processes";
        output.WriteLine(summary);
        if (kills >= 20) Assert.True(where.Count == Points.Length + 1, "not every kind of kill happened: " + summary);
    }
}
