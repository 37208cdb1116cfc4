using System.Diagnostics;
using PeftSharp.Tests.Support;

namespace PeftSharp.Tests.Reliability;

/// <summary>
/// Issue 9, bad configuration and data: each wrong input exits non-zero with one line on stderr that names the problem
/// and the fix, before any expensive work: nothing printed on stdout, nothing written, quickly. Train cases run on a
/// model whose weights are cut off after the header, so a case that loads the model before its check would report
/// the truncated checkpoint instead of its own problem.
/// </summary>
public class BadInputTests(BadInputScene scene) : IClassFixture<BadInputScene>
{
    static readonly TimeSpan Bound = TimeSpan.FromSeconds(5);

    static string Row(string audio, string text) => $"{{\"audio\": \"{audio}\", \"text\": \"{text}\"}}\n";

    public static readonly BadInputCase[] Cases =
    [
        // ---- the YAML itself
        new("yaml: unknown top-level key", c => c.Train("--learning_rat=0.1"), "'learning_rat' is not a known option", "did you mean 'learning_rate'"),
        new("yaml: unknown key in a section", c => c.Train("--lora.rank=4"), "'lora.rank' is not a known option", "known keys here: target_modules, r, lora_alpha"),
        new("yaml: string for an integer", c => c.Train("--micro_batch_size=two"), "'micro_batch_size'", "must be an integer, found 'two'"),
        new("yaml: list for a number", c => c.Train("--learning_rate=[0.1, 0.2]"), "'learning_rate'", "must be a number"),
        new("yaml: scalar for a section", c => c.Train("--lora=8"), "'lora'", "must be a section"),
        new("yaml: syntax error", c => c.TrainYaml("base_model: x\nlora:\n  r: 4\n   lora_alpha: 8\n"), "invalid YAML at line 4", "indentation"),
        new("yaml: key given twice", c => c.TrainYaml("base_model: x\nseed: 1\nseed: 2\n"), "'seed' appears twice", "keep one"),
        new("yaml: top level is a list", c => c.TrainYaml("- base_model\n- adapter\n"), "the top level must be a mapping", "key: value"),
        new("yaml: config file missing", c => ["train", c.File("nope.yaml")], "nope.yaml not found", "pass the path of a YAML training config"),
        new("yaml: malformed override", c => c.Train("--lr"), "'--lr'", "--key=value"),
        new("yaml: unknown task", c => c.Train("--task=regression"), "'regression'", "causal_lm, classification, asr"),

        // ---- model
        new("model: base_model missing", c => c.TrainYaml("adapter: lora\n"), "'base_model' is required", "model folder"),
        new("model: path does not exist", c => c.Train($"--base_model={c.File("no-such-model")}"), "no-such-model' not found", "pass an existing folder"),
        new("model: folder without config.json", c => c.Train($"--base_model={c.Folder("empty-model")}"), "empty-model is not a model folder", "no config.json"),
        new("model: tokenizer path missing", c => c.Train($"--tokenizer={c.File("tok.json")}"), "tok.json", "not found"),
        new("model: dtype float16", c => c.Train("--dtype=float16"), "float16", "use --dtype bfloat16 or float32"),
        new("model: unknown dtype", c => c.Train("--dtype=int8"), "'int8'", "auto, float32 or bfloat16"),

        // ---- adapter sections
        new("adapter: unknown method", c => c.Train("--adapter=loraa"), "'loraa'", "must be one of lora, qlora"),
        new("adapter: section of another method", c => c.Train("--adapter=ia3"), "'lora' holds the settings of adapter: lora / qlora / dora, but adapter is 'ia3'", "remove the section or change adapter"),
        new("lora: r = 0", c => c.Train("--lora.r=0"), "r must be a positive integer", "found 0"),
        new("lora: alpha negative", c => c.Train("--lora.lora_alpha=-8"), "lora_alpha", "must be positive, found -8"),
        new("lora: dropout 1", c => c.Train("--lora.lora_dropout=1"), "lora_dropout", "must be in [0, 1)"),
        new("lora: unknown bias", c => c.Train("--lora.bias=some"), "'some'", "none, all or lora_only"),
        new("lora: layers_to_transform not integers", c => c.Train("--lora.layers_to_transform=[first]"), "'lora.layers_to_transform'", "list of integers"),
        new("lora: target module missing", c => c.TrainOn(BadInputScene.Model, "--lora.target_modules=[q_proj, qq_proj]"), "'qq_proj' not found", "modules that match Linear are"),
        new("lora: target module is a norm", c => c.TrainOn(BadInputScene.Model, "--lora.target_modules=[input_layernorm]"), "'input_layernorm' is a RmsNorm", "target Linear layers"),
        new("adalora: target_r above init_r", c => c.TrainMethod("adalora", "--adalora.init_r=4", "--adalora.target_r=8"), "target_r", "between 0 and init_r"),
        new("adalora: no budgeting phase", c => c.TrainMethod("adalora", "--adalora.total_step=10", "--adalora.tinit=8", "--adalora.tfinal=4"), "total_step (10) - tinit (8) - tfinal (4)", "decrease tinit/tfinal"),
        new("sora: unknown lambda_schedule", c => c.TrainMethod("sora", "--sora.lambda_schedule=cubic"), "lambda_schedule", "constant or linear"),
        new("ia3: feedforward module not a target", c => c.TrainMethod("ia3", "--ia3.target_modules=[k_proj]", "--ia3.feedforward_modules=[down_proj]"), "'down_proj' is not a target", "add it to target_modules"),
        new("ia3: target is an Embedding", c => c.TrainOn(BadInputScene.Model, "--adapter=ia3", "--lora=null", "--ia3.target_modules=[embed_tokens]", "--ia3.feedforward_modules=[]"), "'model.embed_tokens' is not a Linear layer", "drop it from target_modules"),
        new("prompt: zero virtual tokens", c => c.TrainMethod("prompt", "--prompt_tuning.num_virtual_tokens=0"), "num_virtual_tokens", "positive integer"),
        new("prompt: TEXT init without text", c => c.TrainMethod("prompt", "--prompt_tuning.prompt_tuning_init=TEXT"), "prompt_tuning_init_text", "TEXT"),
        new("prefix: encoder_hidden_size 0", c => c.TrainMethod("prefix", "--prefix_tuning.encoder_hidden_size=0"), "encoder_hidden_size", "positive integer"),
        new("bottleneck: unknown non_linearity", c => c.TrainMethod("bottleneck", "--bottleneck.non_linearity=swishy"), "'swishy'", "must be one of"),

        // ---- quantization
        new("quantization: 4-bit and 8-bit", c => c.Train("--adapter=qlora", "--load_in_8bit=true"), "load_in_4bit and load_in_8bit", "choose one"),
        new("quantization: unknown quant type", c => c.Train("--adapter=qlora", "--bnb_4bit_quant_type=int4"), "'int4'", "nf4 or fp4"),
        new("quantization: full fine-tuning of quantized weights", c => c.Train("--adapter=full", "--load_in_4bit=true"), "full fine-tuning cannot update quantized weights", "use adapter: lora/qlora"),
        new("quantization: quantized module trained in full", c => c.TrainOn(BadInputScene.Model, "--adapter=qlora", "--lora.modules_to_save=[down_proj]"), "'down_proj'", "drop it from modules_to_save"),

        // ---- dataset
        new("dataset: datasets missing", c => c.TrainYaml($"base_model: {c.Scene.HeaderOnlyModel}\noutput_dir: {c.Out}\n"), "'datasets' is required", "path:"),
        new("dataset: path missing", c => c.Train($"--datasets=[{{path: {c.File("nope.jsonl")}}}]"), "nope.jsonl' (datasets[0].path) not found", "fix the path"),
        new("dataset: file empty", c => c.Train($"--datasets=[{{path: {c.Write("empty.jsonl", "")}}}]"), "empty.jsonl' (datasets[0].path) is empty", "at least one record"),
        new("dataset: unknown format", c => c.Train($"--datasets=[{{path: {c.Scene.Text}, format: tweets}}]"), "'tweets'", "expected one of"),
        new("dataset: unknown chat template", c => c.Train($"--datasets=[{{path: {c.Scene.Text}, format: text, chat_template: chatml2}}]"), "'chatml2'", "expected one of"),
        new("dataset: text_field names no column", c => c.Train($"--datasets=[{{path: {c.Scene.Notes}, format: text, text_field: body}}]"), "'body'", "fields it has: content"),
        new("dataset: unknown on_error", c => c.Train($"--datasets=[{{path: {c.Scene.Text}, on_error: ignore}}]"), "'ignore'", "skip or fail"),
        new("dataset: val_set_size above 1", c => c.Train("--val_set_size=1.5"), "1.5", "[0, 1)"),
        new("dataset: sequence_len 0", c => c.Train("--sequence_len=0"), "sequence_len", "positive"),
        new("dataset: max_seq_length negative", c => c.Train($"--datasets=[{{path: {c.Scene.Text}, max_seq_length: -5}}]"), "max_seq_length", "positive"),

        // ---- training
        new("training: learning rate NaN", c => c.Train("--learning_rate=NaN"), "learning_rate", "positive number, found NaN"),
        new("training: micro_batch_size 0", c => c.Train("--micro_batch_size=0"), "micro_batch_size", "positive"),
        new("training: negative micro_batch_size", c => c.Train("--micro_batch_size=-2"), "micro_batch_size", "positive"),
        new("training: gradient_accumulation_steps 0", c => c.Train("--gradient_accumulation_steps=0"), "gradient_accumulation_steps", "positive"),
        new("training: warmup_ratio above 1", c => c.Train("--warmup_ratio=1.5"), "warmup_ratio", "[0, 1)"),
        new("training: unknown lr_scheduler", c => c.Train("--lr_scheduler=cosine_restarts"), "'cosine_restarts'", "constant, constant_with_warmup, linear, cosine"),
        new("training: unknown optimizer", c => c.Train("--optimizer=sgd"), "'sgd'", "adamw"),
        new("training: no steps and no epochs", c => c.Train("--max_steps=0", "--num_epochs=0"), "num_epochs", "max_steps"),
        new("training: eval_steps without eval data", c => c.Train("--eval_steps=5"), "eval_steps", "val_set_size"),
        new("training: resume folder missing", c => c.Train($"--resume_from_checkpoint={c.File("checkpoint-9")}"), "checkpoint-9' not found", "latest"),
        new("training: --resume without a run", c => [.. c.Train(), "--resume"], "no checkpoint", "without --resume"),
        new("output: output_dir is the model folder", c => c.Train($"--output_dir={c.Scene.HeaderOnlyModel}"), "output_dir", "outside the model folder"),
        new("output: output_dir inside the model folder", c => c.Train($"--output_dir={Path.Combine(c.Scene.HeaderOnlyModel, "run")}"), "inside the model folder", "outside the model folder"),
        new("output: output_dir is a file", c => c.Train($"--output_dir={c.Write("taken", "x")}"), "is a file", "choose a new output folder"),
        new("output: output_dir holds a run", c => { Directory.CreateDirectory(c.Out); File.WriteAllText(Path.Combine(c.Out, "latest"), "checkpoint-2"); return c.Train(); }, "already holds a run", "--resume"),
        new("task: labels on a causal LM", c => c.Train("--labels=[a, b]"), "'labels'", "task: classification only"),

        // ---- classification
        new("classification: label not in labels", c => c.Classify(c.Write("three.tsv", "sentence\tlabel\nfine\tpositive\nmeh\tneutral\n")), "'neutral'", "add it to labels"),
        new("classification: label column missing", c => c.Classify(c.Write("nolabel.tsv", "sentence\tsentiment\nfine\tpositive\n")), "label_field 'label'", "fields it has: sentence, sentiment"),
        new("classification: class_weights wrong length", c => c.Classify(null, "--class_weights=[1.0, 2.0, 3.0]"), "class_weights has 3 entries", "one weight per label"),
        new("classification: class_weights not a number", c => c.Classify(null, "--class_weights=[1.0, heavy]"), "'heavy'", "balanced"),
        new("classification: one label", c => c.Classify(null, "--labels=[positive]"), "at least 2 labels", "labels"),

        // ---- speech
        new("asr: manifest names a missing WAV", c => c.Asr(Row("gone.wav", "hello")), "audio file not found", "fix the rows"),
        new("asr: audio file unreadable", c => c.Asr(Row(Path.GetFileName(c.GarbageWav()), "hello"), "--datasets=[{path: " + c.File("manifest.jsonl") + ", on_error: fail}]"), "unreadable WAV", "pcm_s16le"),
        new("asr: unknown language", c => c.Asr(Row("a.wav", "hi"), "--language=klingon"), "'klingon'", "language code"),
        new("asr: unknown speech_task", c => c.Asr(Row("a.wav", "hi"), "--speech_task=dictate"), "'dictate'", "transcribe or translate"),

        // ---- other commands
        new("generate: top_p above 1", c => ["generate", "-m", c.Scene.HeaderOnlyModel, "--top-p", "1.5"], "top_p", "(0, 1]"),
        new("generate: negative temperature", c => ["generate", "-m", c.Scene.HeaderOnlyModel, "--temperature", "-1"], "temperature", ">= 0"),
        new("generate: max_new_tokens 0", c => ["generate", "-m", c.Scene.HeaderOnlyModel, "--max-new-tokens", "0"], "--max-new-tokens", "at least 1"),
        new("generate: --model missing", c => ["generate", "--prompt", "hi"], "'--model' is required", "--help"),
        new("generate: unknown option", c => ["generate", "-m", c.Scene.HeaderOnlyModel, "--topp", "0.9"], "'--topp'", "--help"),
        new("generate: threads 0", c => ["generate", "-m", c.Scene.HeaderOnlyModel, "--threads", "0"], "--threads", "positive"),
        new("generate: adapter folder missing", c => ["generate", "-m", c.Scene.HeaderOnlyModel, "--adapter", c.File("no-adapter")], "adapter_config.json not found", "needs adapter_config.json"),
        new("generate: adapter for another base model", c => ["generate", "-m", BadInputScene.Model, "--adapter", c.Scene.OtherBaseAdapter, "-n", "1"], "[4, 32] in the file but [4, 64] in the model", "trained on ('tiny-llama-32')"),
        new("generate: model without tokenizer", c => ["generate", "-m", c.Scene.ModelWithoutTokenizer, "-n", "1"], "no tokenizer found", "--tokenizer"),
        new("command: unknown command", c => ["finetune", "config.yaml"], "'finetune'", "--help"),
        new("eval: unknown --task", c => ["eval", "-m", c.Scene.HeaderOnlyModel, "-d", c.Scene.Text, "--task", "regression"], "--task regression", "perplexity, classification or asr"),
        new("eval: --data missing", c => ["eval", "-m", c.Scene.HeaderOnlyModel, "-d", c.File("gone.txt")], "gone.txt not found", "existing file"),
        new("eval: batch size 0", c => ["eval", "-m", c.Scene.HeaderOnlyModel, "-d", c.Scene.Text, "--batch-size", "0"], "--batch-size", "positive"),
        new("eval: window of 1 token", c => ["eval", "-m", c.Scene.HeaderOnlyModel, "-d", c.Scene.Text, "--window", "1"], "--window", "at least 2"),
        new("eval: classification max length 0", c => ["eval", "--task", "classification", "-m", c.Scene.HeaderOnlyModel, "-d", c.Scene.Sst, "--max-seq-length", "0"], "--max-seq-length", "positive"),
        new("merge: no --adapter", c => ["merge", "-m", c.Scene.HeaderOnlyModel, "-o", c.Out], "merge needs --adapter", "adapter folder"),
        new("merge: prompt-learning adapter", c => ["merge", "-m", c.Scene.HeaderOnlyModel, "-a", c.Scene.PromptAdapter, "-o", c.Out], "PROMPT_TUNING", "use it unmerged"),
        new("merge: output folder not empty", c => { c.Folder("out"); c.Write("out/keep.txt", "x"); return ["merge", "-m", c.Scene.HeaderOnlyModel, "-a", c.Scene.OtherBaseAdapter, "-o", c.Out]; }, "is not empty", "choose a new output folder"),
        new("convert: output is a file", c => ["convert", "-m", c.Scene.HeaderOnlyModel, "-o", c.Write("model.bin", "x")], "is a file", "choose a new output folder"),
        new("convert: output inside the model folder", c => ["convert", "-m", c.Scene.HeaderOnlyModel, "-o", Path.Combine(c.Scene.HeaderOnlyModel, "hf")], "inside the model folder", "outside the model folder"),
        new("predict: neither --data nor --text", c => ["predict", "-m", c.Scene.HeaderOnlyModel], "--data FILE", "--text"),
        new("predict: --data missing", c => ["predict", "-m", c.Scene.HeaderOnlyModel, "--data", c.File("gone.tsv")], "gone.tsv not found", "existing file"),
        new("predict: --output in a missing folder", c => ["predict", "-m", c.Scene.HeaderOnlyModel, "--text", "hi", "--output", c.File("nowhere/p.jsonl")], "does not exist", "create it first"),
        new("transcribe: audio file missing", c => ["transcribe", "-m", c.Scene.BrokenWhisper, "--audio", c.File("gone.wav")], "gone.wav' not found", "existing WAV"),
        new("transcribe: audio file unreadable", c => ["transcribe", "-m", c.Scene.BrokenWhisper, "--audio", c.GarbageWav()], "noise.wav", "PCM"),
        new("transcribe: beam size 0", c => ["transcribe", "-m", c.Scene.BrokenWhisper, "--audio", c.GarbageWav(), "--beam-size", "0"], "beam size must be at least 1", "1 = greedy"),
        new("transcribe: unknown language", c => ["transcribe", "-m", c.Scene.BrokenWhisper, "--audio", c.GarbageWav(), "--language", "klingon"], "'klingon'", "language code"),
        new("transcribe: unknown --task", c => ["transcribe", "-m", c.Scene.BrokenWhisper, "--audio", c.GarbageWav(), "--task", "dictate"], "'dictate'", "transcribe or translate"),
        new("inspect: model missing", c => ["inspect", "-m", c.File("nothing-here")], "nothing-here' not found", "pass an existing folder"),
    ];

    public static TheoryData<string> Names => new(Cases.Select(c => c.Name));

    [Fact]
    public void The_table_covers_at_least_45_distinct_inputs() =>
        Assert.True(Cases.Select(c => c.Name).Distinct().Count() == Cases.Length && Cases.Length >= 45, $"{Cases.Length} cases");

    [Theory]
    [MemberData(nameof(Names))]
    public void Fails_fast_with_one_line_naming_the_problem_and_the_fix(string name)
    {
        var input = Cases.Single(c => c.Name == name);
        var folder = new CaseFolder(scene, name);
        var args = input.Args(folder);
        var before = Snapshot(scene.Dir.Path);
        var watch = Stopwatch.StartNew();
        var r = CliRunner.Run(args);
        watch.Stop();

        Assert.True(r.ExitCode != 0, $"exit code 0; stdout: {r.Out}");
        var err = r.Err.TrimEnd('\r', '\n');
        Assert.False(err.Contains('\n'), $"stderr is not one line:\n{r.Err}");
        Assert.StartsWith("error: ", err);
        Assert.True(err.Contains(input.Problem, StringComparison.Ordinal), $"'{input.Problem}' (the problem) not in: {err}");
        Assert.True(err.Contains(input.Fix, StringComparison.Ordinal), $"'{input.Fix}' (the fix) not in: {err}");
        Assert.True(r.Out.Length == 0, $"work was reported before the error: {r.Out}");
        Assert.Equal(before, Snapshot(scene.Dir.Path));
        Assert.True(watch.Elapsed < Bound, $"took {watch.Elapsed.TotalSeconds:F1} s");
    }

    /// <summary>Every file and folder under <paramref name="root"/> with its size and write time.</summary>
    static List<string> Snapshot(string root) =>
        Directory.EnumerateFileSystemEntries(root, "*", SearchOption.AllDirectories)
            .Select(p => File.Exists(p) ? $"{Path.GetRelativePath(root, p)} {new FileInfo(p).Length} {File.GetLastWriteTimeUtc(p).Ticks}" : Path.GetRelativePath(root, p) + "/")
            .Order(StringComparer.Ordinal).ToList();
}
