using System.Diagnostics;
using PeftSharp.Tests.Support;
using PeftSharp.Training;

namespace PeftSharp.Tests.Reliability;

/// <summary>
/// A checkpoint save that fails mid-run, on a full disk (a 32 MB tmpfs filled up) or a folder that turned read-only
/// (a read-only bind mount over it): the run exits non-zero with one line that names the failure, the previous
/// checkpoint stays loadable, and once the fault is gone --resume finishes with the same adapter as an
/// uninterrupted run. Mounting needs root (CI runs as root); elsewhere these tests skip and say so.
/// </summary>
[Collection(GlobalRngCollection.Name)] // in-process runs compared bit for bit: nothing else may draw from torch's RNG meanwhile
public class DiskFaultTests
{
    static readonly string[] Overrides = ["logging_steps=100", "eval_steps=0", "val_set_size=0"];

    [Theory]
    [InlineData("disk-full")]
    [InlineData("read-only")]
    public void A_checkpoint_that_cannot_be_written_fails_the_run_and_keeps_the_previous_one(string fault)
    {
        using var dir = Fixtures.NewTempDir();
        var mountPoint = dir.File("mnt");
        Directory.CreateDirectory(mountPoint);
        if (fault == "disk-full") Mount(["-t", "tmpfs", "-o", "size=32m", "tmpfs", mountPoint]);
        var output = Path.Combine(mountPoint, "out");
        try
        {
            var reference = CliRunner.Run(["train", TrainingRunKit.WriteConfig(dir.Path, dir.File("reference"), steps: 16), .. Overrides]);
            Assert.True(reference.ExitCode == 0, reference.Err);
            var config = TrainingRunKit.WriteConfig(dir.Path, output, steps: 16);

            // As soon as the first checkpoint is complete, the disk fills up or the folder turns read-only.
            using var stop = new CancellationTokenSource();
            var saboteur = new Thread(() =>
            {
                while (!File.Exists(Path.Combine(output, CheckpointStore.LatestFile)) && !stop.IsCancellationRequested) Thread.Sleep(1);
                if (stop.IsCancellationRequested) return;
                if (fault == "disk-full") FillUp(Path.Combine(mountPoint, "filler"));
                else Mount(["--bind", output, output], ["-o", "remount,bind,ro", output]);
            });
            saboteur.Start();
            var failed = CliRunner.Run(["train", config, .. Overrides]);
            stop.Cancel();
            saboteur.Join();

            Assert.NotEqual(0, failed.ExitCode);
            var message = failed.Err.Trim();
            Assert.DoesNotContain('\n', message);
            Assert.Contains("could not write checkpoint-", message);
            Assert.Contains(fault == "disk-full" ? "No space left" : "Read-only", message);
            Assert.Matches(@"previous checkpoint checkpoint-\d+ is intact", message);
            Assert.Contains("--resume", message);
            TrainingRunKit.AssertCheckpointsLoad(output);
            Assert.DoesNotContain(Directory.EnumerateFileSystemEntries(output), e => Path.GetFileName(e).StartsWith(".checkpoint-"));
            Assert.False(File.Exists(Path.Combine(output, "adapter_model.safetensors")));

            // The fault cleared, the run resumes from the kept checkpoint and ends where an uninterrupted run ends.
            if (fault == "disk-full") File.Delete(Path.Combine(mountPoint, "filler"));
            else Unmount(output);
            var resumed = CliRunner.Run(["train", config, "--resume", .. Overrides]);
            Assert.True(resumed.ExitCode == 0, resumed.Err);
            var expected = TrainingRunKit.FinalAdapter(dir.File("reference"));
            foreach (var (name, bytes) in TrainingRunKit.FinalAdapter(output)) Assert.Equal(expected[name], bytes);
        }
        finally
        {
            if (fault == "read-only") TryUnmount(output);
            else TryUnmount(mountPoint);
        }
    }

    [Fact]
    public void A_read_only_output_folder_is_refused_before_the_model_loads()
    {
        using var dir = Fixtures.NewTempDir();
        var output = dir.File("out");
        var config = TrainingRunKit.WriteConfig(dir.Path, output, steps: 4);
        Assert.Equal(0, CliRunner.Run(["train", config, .. Overrides]).ExitCode);
        var before = Directory.GetFiles(output, "*", SearchOption.AllDirectories).ToDictionary(f => f, File.ReadAllBytes);
        Mount(["--bind", output, output], ["-o", "remount,bind,ro", output]);
        try
        {
            var result = CliRunner.Run(["train", config, "--resume", "max_steps=8", .. Overrides]);
            Assert.NotEqual(0, result.ExitCode);
            Assert.Contains($"cannot write to output_dir {output}", result.Err);
            Assert.Contains("Read-only file system", result.Err);
            Assert.Contains("choose another output_dir", result.Err);
            Assert.DoesNotContain('\n', result.Err.Trim());
        }
        finally { TryUnmount(output); }
        foreach (var (file, bytes) in before) Assert.Equal(bytes, File.ReadAllBytes(file));
    }

    static void FillUp(string path)
    {
        using var f = new FileStream(path, FileMode.Create);
        var block = new byte[1 << 16];
        try { while (true) f.Write(block); }
        catch (IOException) { } // ENOSPC: the file system is full
        try { f.Flush(); } catch (IOException) { }
    }

    /// <summary>Runs mount once per argument list; skips the test where mounting is not allowed (not root).</summary>
    static void Mount(params string[][] argumentLists)
    {
        foreach (var args in argumentLists)
        {
            var (code, err) = Exec("mount", args);
            if (code != 0)
                Assert.Skip($"mount {string.Join(' ', args)} failed ({err.Trim()}): this test needs root to simulate a full disk or a read-only folder");
        }
    }

    static void Unmount(string path) => Assert.Equal(0, Exec("umount", [path]).Code);

    static void TryUnmount(string path)
    {
        while (Exec("umount", [path]).Code == 0) { } // bind mounts may stack
    }

    static (int Code, string Err) Exec(string file, string[] args)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in args) start.ArgumentList.Add(a);
        using var p = Process.Start(start)!;
        var err = p.StandardError.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, err);
    }
}
