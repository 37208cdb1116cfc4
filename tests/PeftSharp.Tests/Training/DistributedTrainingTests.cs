using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using PeftSharp.IO.SafeTensors;
using PeftSharp.Tests.Support;

namespace PeftSharp.Tests.Training;

/// <summary>
/// `mpirun -np 2 peftsharp train` on the real stories260K: the same adapter as one process with the same global
/// batch, resume across rank counts, and a broken rank failing the job instead of hanging. Skipped without mpirun.
/// </summary>
public class DistributedTrainingTests
{
    /// <summary>A short QLoRA run (no dropout, so one and two ranks draw nothing differently); micro-batch 2.</summary>
    static string WriteConfig(TempDir tmp) =>
        TrainYaml.Write(tmp, "ddp.yaml", new TrainYaml.Options(TrainYaml.QLora(dropout: 0.0)) { WarmupSteps = 1, SaveTotalLimit = 5 });

    static CliProcess.Result OneProcess(TempDir tmp, params string[] args) => CliProcess.Run(tmp.Path, null, null, ["train", WriteConfig(tmp), .. args]);

    static CliProcess.Result Ranks(TempDir tmp, int ranks, IReadOnlyDictionary<string, string>? lastRankEnv, params string[] args) =>
        MpiRun.Train(tmp.Path, ranks, lastRankEnv, ["train", tmp.File("ddp.yaml"), .. args]);

    static Dictionary<string, float[]> Adapter(string folder)
    {
        using var file = SafeTensorsFile.Open(Path.Combine(folder, "adapter_model.safetensors"));
        return file.Keys.ToDictionary(k => k, k => { using var t = file.Load(k, ScalarType.Float32); return t.data<float>().ToArray(); });
    }

    /// <summary>Largest elementwise difference between two adapters with the same tensors.</summary>
    static double MaxDifference(Dictionary<string, float[]> a, Dictionary<string, float[]> b)
    {
        Assert.Equal(a.Keys.Order(), b.Keys.Order());
        return a.Keys.Max(k => a[k].Zip(b[k], (x, y) => (double)Math.Abs(x - y)).Max());
    }

    static void Succeeded(CliProcess.Result r) => Assert.True(r.ExitCode == 0, r.Output);

    static long Number(string output, string pattern) =>
        long.Parse(Regex.Match(output, pattern).Groups[1].Value.Replace(",", ""), CultureInfo.InvariantCulture);

    [Fact]
    public void Two_ranks_train_the_adapter_one_process_trains_with_the_same_global_batch()
    {
        MpiRun.RequireMpirun();
        using var tmp = Fixtures.NewTempDir();
        var accumulated = OneProcess(tmp, "--gradient_accumulation_steps=2", $"--output_dir={tmp.File("one-accum2")}");
        Succeeded(accumulated);
        var wider = OneProcess(tmp, "--micro_batch_size=4", $"--output_dir={tmp.File("one-micro4")}");
        Succeeded(wider);
        var two = Ranks(tmp, 2, null, $"--output_dir={tmp.File("two")}");
        Succeeded(two);

        var reference = Adapter(tmp.File("one-accum2"));
        Assert.True(reference.Where(p => p.Key.Contains("lora_B")).Max(p => p.Value.Max(Math.Abs)) > 1e-3);   // it trained (B starts at 0)
        Assert.True(MaxDifference(reference, Adapter(tmp.File("two"))) < 1e-5);
        Assert.True(MaxDifference(Adapter(tmp.File("one-micro4")), Adapter(tmp.File("two"))) < 1e-5);

        // Only trainable parameters travel: the gradient buffer is their fp32 bytes.
        long trainable = Number(two.Output, @"training ([\d,]+) parameters");
        Assert.Equal(trainable * sizeof(float), Number(two.Output, @"gradient all-reduce ([\d,]+) bytes per step"));
        Assert.Matches(@"data parallel: [\d.]+ s of [\d.]+ s in collectives", two.Output);
        // Rank 0 alone logs and writes: one line and one metrics point per step.
        Assert.Single(Regex.Matches(two.Output, @"step 4 epoch"));
        var points = File.ReadLines(Path.Combine(tmp.File("two"), "metrics.jsonl")).Where(l => l.Contains("\"train\"")).ToList();
        Assert.Equal(4, points.Count);
    }

    [Fact]
    public void A_one_process_checkpoint_resumes_on_two_ranks_to_the_same_adapter()
    {
        MpiRun.RequireMpirun();
        using var tmp = Fixtures.NewTempDir();
        var reference = OneProcess(tmp, "--gradient_accumulation_steps=2", $"--output_dir={tmp.File("one")}");
        Succeeded(reference);
        var resumed = Ranks(tmp, 2, null, $"--output_dir={tmp.File("two")}", $"--resume_from_checkpoint={tmp.File("one/checkpoint-2")}");
        Succeeded(resumed);
        Assert.Contains("at step 2 (epoch 0, batch 4)", resumed.Output);  // the position counts micro-batches of the one-process order
        Assert.True(MaxDifference(Adapter(tmp.File("one")), Adapter(tmp.File("two"))) < 1e-5);
    }

    [Fact]
    public void A_rank_killed_mid_run_fails_the_job_with_a_message_instead_of_hanging()
    {
        MpiRun.RequireMpirun();
        using var tmp = Fixtures.NewTempDir();
        WriteConfig(tmp);
        var r = Ranks(tmp, 2, new Dictionary<string, string> { ["PEFTSHARP_FAULT"] = "step:2" }, $"--output_dir={tmp.File("out")}");
        Assert.NotEqual(0, r.ExitCode);
        Assert.Matches(@"rank 1 .*(signal 9|Killed)", r.Output);
        Assert.False(File.Exists(tmp.File("out/adapter_model.safetensors")), r.Output);   // the job did not carry on as if nothing happened
    }

    [Fact]
    public void A_stuck_rank_is_caught_by_the_ddp_timeout_and_the_job_aborted_naming_rank_and_step()
    {
        MpiRun.RequireMpirun();
        using var tmp = Fixtures.NewTempDir();
        WriteConfig(tmp);
        var watch = Stopwatch.StartNew();
        var r = Ranks(tmp, 2, new Dictionary<string, string> { ["PEFTSHARP_FAULT"] = "step:2:hang" }, $"--output_dir={tmp.File("out")}", "--ddp_timeout=30");
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("error: rank 0 of 2: the all-reduce of the token counts at step 3 did not complete within ddp_timeout (30 s)", r.Output);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(150), $"took {watch.Elapsed}");
    }

    [Fact]
    public void Under_a_launcher_without_Open_MPI_the_run_stops_naming_the_packages_to_install()
    {
        using var tmp = Fixtures.NewTempDir();
        var env = new Dictionary<string, string> { ["OMPI_COMM_WORLD_SIZE"] = "2", ["OMPI_COMM_WORLD_RANK"] = "0", ["PEFTSHARP_MPI_LIBRARY"] = tmp.File("libmpi.so.40") };
        var r = CliProcess.Run(tmp.Path, env, null, "train", WriteConfig(tmp), $"--output_dir={tmp.File("out")}");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("error: this run was started by an MPI launcher but Open MPI's library (libmpi.so.40) could not be loaded", r.Output);
        Assert.Contains("apt-get install openmpi-bin libopenmpi-dev", r.Output);
        Assert.False(Directory.Exists(tmp.File("out")));
    }
}
