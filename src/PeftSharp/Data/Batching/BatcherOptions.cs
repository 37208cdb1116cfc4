namespace PeftSharp.Data;

public sealed record BatcherOptions
{
    public int BatchSize { get; init; } = 1;
    /// <summary>Row length when packing; the cap on padded length otherwise.</summary>
    public int MaxSeqLength { get; init; } = 2048;
    public bool Packing { get; init; }
    /// <summary>HF's group_by_length: batches of similar lengths (unpacked only).</summary>
    public bool GroupByLength { get; init; }
    public bool Shuffle { get; init; } = true;
    public int Seed { get; init; } = 42;
    /// <summary>The id written on padding (the tokenizer's pad id, else EOS); masked out everywhere.</summary>
    public int PadId { get; init; }
}
