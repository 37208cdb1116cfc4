using PeftSharp.Tokenization;

namespace PeftSharp.Data;

/// <summary>
/// How <see cref="SftTokenizer"/> turns segments into an example: length cap, EOS, completion-only loss.
/// </summary>
public sealed record SftTokenizerOptions
{
    /// <summary>
    /// Maximum tokens per example including BOS and EOS (TRL max_seq_length); at least 2, default 2048. Longer examples
    /// keep their first MaxSeqLength tokens.
    /// </summary>
    public int MaxSeqLength { get; init; } = 2048;
    /// <summary>Append EOS (trainable) unless the example already ends with an EOS id.</summary>
    public bool AddEos { get; init; } = true;
    /// <summary>Train on prompt tokens too; false gives completion-only loss.</summary>
    public bool TrainOnInputs { get; init; }
}

/// <summary>
/// Segments to ids and labels. Adjacent segments with the same trainability are joined, then each run is tokenized
/// on its own without special tokens, so the prompt and the completion are tokenized separately (as TRL's
/// completion-only path does). That keeps the prompt/response boundary on a token boundary; the price is that a
/// tokenizer with a dummy-prefix space (SentencePiece, llama2.c) starts each run with "▁", which a joint encoding
/// would not always do. BOS is added once at the start when the tokenizer adds one; the result is truncated to
/// MaxSeqLength from the end, and an example with no trainable token left is dropped (null).
/// </summary>
public sealed class SftTokenizer
{
    readonly ITextTokenizer tokenizer;
    readonly SftTokenizerOptions options;
    readonly int? bos;

    /// <summary>Wraps a tokenizer; encodes a probe string once to learn whether it adds BOS itself.</summary>
    /// <param name="tokenizer">The model's tokenizer.</param>
    /// <param name="options">Length cap, EOS and loss masking.</param>
    /// <exception cref="ConfigurationException"><see cref="SftTokenizerOptions.MaxSeqLength"/> is below 2.</exception>
    public SftTokenizer(ITextTokenizer tokenizer, SftTokenizerOptions options)
    {
        if (options.MaxSeqLength < 2) throw new ConfigurationException($"max_seq_length must be at least 2, got {options.MaxSeqLength}");
        this.tokenizer = tokenizer;
        this.options = options;
        // Ask the tokenizer itself whether it adds BOS (HF configs can switch add_bos_token off).
        var probe = tokenizer.Encode("a", addSpecialTokens: true);
        bos = tokenizer.BosId is int b && probe.Count > 0 && probe[0] == b ? b : null;
    }

    /// <summary>The example, or null when truncation left nothing to train on.</summary>
    public TokenizedExample? Tokenize(IReadOnlyList<Segment> segments)
    {
        var ids = new List<int>();
        var labels = new List<int>();
        if (bos is int b) Add(b, false);
        foreach (var (text, trainable) in Merge(segments))
            foreach (int id in tokenizer.Encode(text, addSpecialTokens: false)) Add(id, trainable);
        if (options.AddEos && tokenizer.EosId is int eos && (ids.Count == 0 || !tokenizer.EosIds.Contains(ids[^1])))
            Add(eos, true);

        int n = Math.Min(ids.Count, options.MaxSeqLength);
        var input = ids.GetRange(0, n).ToArray();
        var label = labels.GetRange(0, n).ToArray();
        return label.Any(l => l != TokenizedExample.IgnoreIndex) ? new TokenizedExample(input, label) : null;

        void Add(int id, bool trainable)
        {
            ids.Add(id);
            labels.Add(trainable || options.TrainOnInputs ? id : TokenizedExample.IgnoreIndex);
        }
    }

    static IEnumerable<(string Text, bool Trainable)> Merge(IReadOnlyList<Segment> segments)
    {
        int i = 0;
        while (i < segments.Count)
        {
            bool t = segments[i].Trainable;
            var text = new System.Text.StringBuilder();
            while (i < segments.Count && segments[i].Trainable == t) text.Append(segments[i++].Text);
            if (text.Length > 0) yield return (text.ToString(), t);
        }
    }
}
