namespace PeftSharp.Data;

/// <summary>
/// How <see cref="Batcher"/> forms micro-batches: batch size, packing, length grouping, shuffling and the pad id.
/// Mirrors HF TrainingArguments' per_device_train_batch_size / group_by_length / seed and TRL SFTConfig's packing.
/// </summary>
public sealed record BatcherOptions
{
    /// <summary>
    /// Rows per micro-batch (HF per_device_train_batch_size); at least 1. Default 1. The last batch of an epoch may be
    /// smaller.
    /// </summary>
    public int BatchSize { get; init; } = 1;
    /// <summary>Row length when packing; the cap on padded length otherwise.</summary>
    public int MaxSeqLength { get; init; } = 2048;
    /// <summary>
    /// True: concatenate examples into rows of exactly <see cref="MaxSeqLength"/> tokens (TRL SFTConfig packing), with
    /// position ids restarting and sequence ids marking each example, so attention stays within it. Default false: one
    /// example per row, padded.
    /// </summary>
    public bool Packing { get; init; }
    /// <summary>HF's group_by_length: batches of similar lengths (unpacked only).</summary>
    public bool GroupByLength { get; init; }
    /// <summary>
    /// Shuffle the example order each epoch with System.Random(<see cref="Seed"/> + epoch); default true. False keeps
    /// file order (useful for evaluation).
    /// </summary>
    public bool Shuffle { get; init; } = true;
    /// <summary>
    /// Seed of the per-epoch shuffle (HF seed); default 42. The same seed gives the same batches across runs and on
    /// resume.
    /// </summary>
    public int Seed { get; init; } = 42;
    /// <summary>The id written on padding (the tokenizer's pad id, else EOS); masked out everywhere.</summary>
    public int PadId { get; init; }
}
