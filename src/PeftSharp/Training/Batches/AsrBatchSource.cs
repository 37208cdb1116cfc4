using PeftSharp.Data;
using PeftSharp.Data.Speech;
using PeftSharp.Audio;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftSharp.Training;

/// <summary>
/// Speech-to-text micro-batches for Whisper: <see cref="TrainingBatch.InputFeatures"/> holds log-mel features
/// [B, mels, 3000] computed when the batch is built (WAV, resampled to 16 kHz, then <see cref="LogMelSpectrogram"/>),
/// InputIds the decoder inputs [B, T] padded with &lt;|endoftext|&gt;, Labels [B, T] padded with -100; no attention
/// mask (padding is masked through the labels, and the causal decoder never attends forward into it). Transcripts are
/// tokenized once, up front; audio is read when its batch is built. Computed features are kept in a bounded LRU
/// (<see cref="AsrBatchOptions.FeatureCacheBytes"/>): a small set is then read from disk only in its first epoch,
/// while a large one costs at most that much memory.
/// </summary>
public sealed class AsrBatchSource : IBatchSource
{
    readonly IReadOnlyList<AsrExample> examples;
    readonly AsrTargets[] targets;
    readonly MelFilterBank filters;
    readonly AsrBatchOptions options;
    readonly int padId;
    readonly FeatureLru cache;

    /// <summary>Batches over a manifest's examples; every transcript is tokenized here, audio is read per batch.</summary>
    /// <param name="examples">The clips with their transcripts and languages.</param>
    /// <param name="labels">Turns transcripts into decoder inputs and labels (and gives the pad id, &lt;|endoftext|&gt;).</param>
    /// <param name="filters">The checkpoint's filterbank: 80 bins for most Whisper models, 128 for large-v3.</param>
    /// <param name="options">Batch size, shuffle seed, feature dtype and cache size; null: the defaults.</param>
    /// <exception cref="ConfigurationException">The batch size is below 1, there are no examples, or a row names an unknown language.</exception>
    public AsrBatchSource(IReadOnlyList<AsrExample> examples, AsrLabelBuilder labels, MelFilterBank filters, AsrBatchOptions? options = null)
    {
        this.options = options ??= new AsrBatchOptions();
        if (options.BatchSize < 1) throw new ConfigurationException($"batch size must be at least 1, got {options.BatchSize}");
        if (examples.Count == 0) throw new ConfigurationException("the speech dataset has no examples; check the manifest");
        this.examples = examples;
        this.filters = filters;
        padId = labels.EndOfText;
        cache = new FeatureLru((int)Math.Min(int.MaxValue, options.FeatureCacheBytes / ((long)filters.Bins * LogMelSpectrogram.Frames * sizeof(float))));
        targets = new AsrTargets[examples.Count];
        for (int i = 0; i < targets.Length; i++)
        {
            var ex = examples[i];
            try { targets[i] = labels.Build(ex.Text, ex.Language); }
            catch (ArgumentException e) // an unknown language: name the row that asked for it
            {
                throw new ConfigurationException($"{ex.Location}: {e.Message}");
            }
        }
        string location = examples[0].Location;
        labels.WarnIfTruncated(location[..location.LastIndexOf(':')]); // the manifest the rows came from
    }

    /// <inheritdoc/>
    public int BatchesPerEpoch => (examples.Count + options.BatchSize - 1) / options.BatchSize;

    /// <summary>The example indices of an epoch in their order.</summary>
    public int[] Order(int epoch)
    {
        var order = Enumerable.Range(0, examples.Count).ToArray();
        if (options.Shuffle) new Random(options.Seed + epoch).Shuffle(order);
        return order;
    }

    /// <summary>The decoder targets of example <paramref name="index"/> (as the batches carry them, before padding).</summary>
    public AsrTargets Targets(int index) => targets[index];

    /// <summary>The epoch's batches, built lazily; the last one may be smaller. Dispose each after use.</summary>
    public IEnumerable<TrainingBatch> Epoch(int epoch)
    {
        foreach (var chunk in Order(epoch).Chunk(options.BatchSize)) yield return Build(chunk);
    }

    TrainingBatch Build(int[] indices)
    {
        int b = indices.Length, t = indices.Max(i => targets[i].Length);
        var ids = new long[b * t];
        var labels = new long[b * t];
        Array.Fill(ids, padId);
        Array.Fill(labels, TokenizedExample.IgnoreIndex);
        for (int r = 0; r < b; r++)
        {
            var target = targets[indices[r]];
            for (int j = 0; j < target.Length; j++)
            {
                ids[r * t + j] = target.DecoderInputIds[j];
                labels[r * t + j] = target.Labels[j];
            }
        }
        return new TrainingBatch(torch.tensor(ids, [b, t]), torch.tensor(labels, [b, t]), InputFeatures: Features(indices));
    }

    Tensor Features(int[] indices)
    {
        int size = filters.Bins * LogMelSpectrogram.Frames;
        var buffer = new float[indices.Length * size];
        for (int r = 0; r < indices.Length; r++)
            cache.GetOrCompute(indices[r], ComputeFeatures).CopyTo(buffer, r * size);
        var features = torch.tensor(buffer, [indices.Length, filters.Bins, LogMelSpectrogram.Frames], torch.float32);
        if (options.FeatureDtype == ScalarType.Float32) return features;
        using (features) return features.to_type(options.FeatureDtype);
    }

    float[] ComputeFeatures(int index) =>
        LogMelSpectrogram.ComputeArray(Resampler.To16k(WavReader.Read(examples[index].AudioPath)).Samples, filters);

    /// <summary>How many clips' features the cache holds now.</summary>
    public int CachedClips => cache.Count;
}
