using PeftSharp.Audio;
using PeftSharp.Data.Speech;
using PeftSharp.Evaluation;
using PeftSharp.Generation.Whisper;
using PeftSharp.IO.SafeTensors;
using PeftSharp.Models;
using PeftSharp.Models.Whisper;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftSharp.Training.Objectives;

/// <summary>What the trainer's ASR evaluation transcribes: the eval clips, how to decode them, and how to score.</summary>
public sealed record AsrEvalSettings(IReadOnlyList<AsrExample> Examples, MelFilterBank Filters, WhisperGenerator Generator, WhisperDecodingOptions Decoding,
    int BatchSize = 8, WhisperTextNormalizer? Normalizer = null);

/// <summary>
/// Speech-to-text fine-tuning of Whisper (HF's Seq2Seq recipe): the decoder reads the forced prefix and the transcript,
/// and the loss is the cross-entropy of each next token (labels aligned with the decoder inputs, -100 ignored).
/// Evaluation reports the token loss and, when clips are given, WER and CER of greedy transcripts.
/// </summary>
public sealed class SpeechToTextObjective(WhisperForConditionalGeneration model, AsrEvalSettings? transcribe = null) : ITrainingObjective
{
    /// <inheritdoc/>
    public nn.Module Model => model;
    /// <inheritdoc/>
    public bool GradientCheckpointing { set => model.GradientCheckpointing = value; }

    /// <summary>
    /// Summed fp32 cross-entropy of the decoder logits against the labels (aligned with the decoder inputs; -100
    /// ignored).
    /// </summary>
    /// <exception cref="PeftSharpException">The batch has no input features.</exception>
    public Tensor Loss(TrainingBatch b)
    {
        var features = b.InputFeatures ?? throw new PeftSharpException("a speech batch needs input features (log-mel spectrograms)");
        var logits = model.Forward(features.to(model.DType), b.InputIds);
        long v = logits.shape[^1];
        return nn.functional.cross_entropy(logits.reshape(-1, v).to(ScalarType.Float32), b.Labels.reshape(-1),
            ignore_index: CausalLmLoss.IgnoreIndex, reduction: nn.Reduction.Sum);
    }

    /// <summary>Label tokens that are not -100.</summary>
    public long Targets(TrainingBatch b) => b.Labels.ne(CausalLmLoss.IgnoreIndex).sum().item<long>();

    /// <summary>
    /// Decoder tokens trained on (the same count as <see cref="Targets"/>; audio frames are not counted).
    /// </summary>
    public long Tokens(TrainingBatch b) => b.Labels.ne(CausalLmLoss.IgnoreIndex).sum().item<long>();

    /// <summary>
    /// Token loss and perplexity over the source and, when eval clips were given, "wer" and "cer" of their transcripts.
    /// </summary>
    public EvalResult Evaluate(IBatchSource source)
    {
        var (loss, perplexity, count) = DatasetLoss.Compute(source, b => (Loss(b), Targets(b)));
        var metrics = new Dictionary<string, double> { ["perplexity"] = perplexity };
        if (transcribe is { } t)
        {
            var r = AsrEvaluation.Run(t.Generator, t.Examples, t.Filters, t.Decoding, t.BatchSize, t.Normalizer);
            metrics["wer"] = r.Wer;
            metrics["cer"] = r.Cer;
        }
        return new EvalResult(loss, count, metrics);
    }

    /// <inheritdoc/>
    public void SaveModel(string folder, IReadOnlyDictionary<string, string>? extraFiles, bool overwrite) =>
        ModelFolderWriter.Save(model, model.Config.TieWordEmbeddings ? new HashSet<string> { WhisperForConditionalGeneration.OutputProjectionKey } : new HashSet<string>(),
            (model.Config with { TorchDtype = ModelFolderWriter.DTypeName(model.DType) }).ToJson(), null, folder, extraFiles, overwrite: overwrite);

    /// <inheritdoc/>
    public void LoadModel(string folder)
    {
        using var src = SafeTensorsCheckpoint.Open(folder);
        WeightLoader.Load(model, src, model.KeysNotRequired(src));
    }

    /// <summary>None: a Whisper adapter folder needs only the adapter files.</summary>
    public IReadOnlyDictionary<string, string> AdapterFolderFiles { get; } = new Dictionary<string, string>();
}
