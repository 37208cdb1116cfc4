using PeftSharp.Tests.Support;
using PeftSharp.Training;

namespace PeftSharp.Tests.Reliability;

/// <summary>Two runs writing to one output folder: the second refuses; a lock left by a killed run is taken over.</summary>
public class OutputLockTests
{
    [Fact]
    public void A_second_run_into_a_folder_in_use_refuses_before_writing_anything()
    {
        using var dir = Fixtures.NewTempDir();
        var output = dir.File("out");
        using (OutputDirLock.Acquire(output))
        {
            var before = Directory.GetFileSystemEntries(output);
            var result = CliRunner.Run("train", TrainingRunKit.WriteConfig(dir.Path, output, steps: 4));
            Assert.NotEqual(0, result.ExitCode);
            Assert.Contains($"output_dir {output} is in use by another run (pid {Environment.ProcessId} on {Environment.MachineName}", result.Err);
            Assert.Contains("wait for it to finish or choose another output_dir", result.Err);
            Assert.Equal(before, Directory.GetFileSystemEntries(output));
            Assert.Throws<ConfigurationException>(() => OutputDirLock.Acquire(output)); // the API refuses too
        }
        Assert.Equal(0, CliRunner.Run("train", TrainingRunKit.WriteConfig(dir.Path, output, steps: 4)).ExitCode); // released
        Assert.False(File.Exists(Path.Combine(output, OutputDirLock.FileName)));
    }

    [Fact]
    public void A_running_process_holds_the_folder_and_its_lock_goes_stale_when_it_is_killed()
    {
        using var dir = Fixtures.NewTempDir();
        var output = dir.File("out");
        var config = TrainingRunKit.WriteConfig(dir.Path, output, steps: 400);
        var lockFile = Path.Combine(output, OutputDirLock.FileName);
        string refusal = "";
        // The other run: a child process, killed as soon as this process has seen its lock refuse a second run.
        var other = CliProcess.RunWatched(dir.Path, p =>
        {
            // metrics.jsonl appears once the trainer runs, well after the lock was taken (the lock file itself exists a moment before its lock).
            while (!File.Exists(Path.Combine(output, "metrics.jsonl")) && !p.HasExited) Thread.Sleep(5);
            refusal = CliRunner.Run("train", config).Err;
            p.Kill();
        }, "train", config);
        Assert.True(other.Killed, other.Output);
        Assert.True(refusal.Contains("is in use by another run (pid "), refusal);
        Assert.True(File.Exists(lockFile)); // SIGKILL left the file; the kernel released the lock

        var notes = new List<string>();
        using (Diagnostics.RedirectInfo(notes.Add))
        {
            bool checkpointed = File.Exists(Path.Combine(output, CheckpointStore.LatestFile));
            var resumed = CliRunner.Run(checkpointed ? ["train", config, "--resume", "max_steps=2"] : ["train", config, "max_steps=2"]);
            Assert.True(resumed.ExitCode == 0, resumed.Err);
        }
        Assert.Contains(notes, n => n.Contains("taking over a stale lock (pid "));
    }
}
