using PeftSharp.Models.Whisper;
using static TorchSharp.torch;

namespace PeftSharp.Generation.Whisper;

/// <summary>
/// openai-whisper's BeamSearchDecoder (patience 1) and MaximumLikelihoodRanker (length_penalty None): each step every
/// beam proposes its beam+1 best tokens; per clip the best candidates ending in end-of-text are kept as finished
/// (up to beam size) and the best others continue; a clip is done once it has beam-size finished sequences. The
/// answer is the finished sequence with the highest sum log-prob / length (tokens without end-of-text).
/// </summary>
internal sealed class WhisperBeamSearch
{
    readonly WhisperForConditionalGeneration model;
    readonly int eot, beams;

    public WhisperBeamSearch(WhisperForConditionalGeneration model, int endOfText, int beamSize)
    {
        this.model = model;
        eot = endOfText;
        beams = beamSize;
    }

    sealed record Candidate(List<int> Tokens, double Score, int Source);

    public IReadOnlyList<WhisperGenerator.Decoded> Run(Tensor encoded, IReadOnlyList<IReadOnlyList<int>> prefixes, int maxNew, WhisperSuppression suppression)
    {
        int clips = prefixes.Count, rows = clips * beams;
        using var memory = encoded.repeat_interleave(beams, 0);
        var sequences = Enumerable.Range(0, rows).Select(_ => new List<int>()).ToArray();
        var sums = new double[rows];
        var finished = Enumerable.Range(0, clips).Select(_ => new List<(List<int> Tokens, double Score)>()).ToArray();
        using var cache = model.NewCache();
        var input = WhisperGenerator.PrefixTensor(Enumerable.Range(0, rows).Select(r => prefixes[r / beams]).ToList(), encoded.device);
        for (int step = 0; step < maxNew; step++)
        {
            using var scope = NewDisposeScope();
            var logits = model.Decode(input, memory, cache).select(1, -1).to(ScalarType.Float32);
            suppression.Apply(logits, firstStep: step == 0);
            var (values, indices) = logits.log_softmax(1).topk(beams + 1, 1);
            var logProbs = values.to(ScalarType.Float64, CPU).data<double>().ToArray();
            var tokens = indices.cpu().data<long>().ToArray();
            var nextTokens = new long[rows];
            var sources = new long[rows];
            var nextSums = new double[rows];
            var nextSequences = new List<int>[rows];
            for (int c = 0; c < clips; c++)
            {
                var candidates = Candidates(c, sequences, sums, logProbs, tokens);
                int saved = 0;
                var newlyFinished = new List<(List<int>, double)>();
                foreach (var cand in candidates)
                {
                    if (cand.Tokens[^1] == eot) { newlyFinished.Add((cand.Tokens, cand.Score)); continue; }
                    int row = c * beams + saved;
                    nextSequences[row] = cand.Tokens;
                    nextSums[row] = cand.Score;
                    nextTokens[row] = cand.Tokens[^1];
                    sources[row] = cand.Source;
                    if (++saved == beams) break;
                }
                foreach (var f in newlyFinished)
                    if (finished[c].Count < beams) finished[c].Add(f);
            }
            sequences = nextSequences;
            sums = nextSums;
            if (finished.All(f => f.Count >= beams)) break;
            using (var rowsToKeep = tensor(sources, device: encoded.device)) cache.SelectRows(rowsToKeep);
            input.Dispose();
            input = tensor(nextTokens, new long[] { rows, 1 }, device: encoded.device).DetachFromDisposeScope();
        }
        input.Dispose();
        return Enumerable.Range(0, clips).Select(c => Best(c, finished[c], sequences, sums)).ToList();
    }

    /// <summary>The clip's candidates, best first; a sequence proposed by two beams counts once (as a Python dict keyed by it).</summary>
    List<Candidate> Candidates(int clip, List<int>[] sequences, double[] sums, double[] logProbs, long[] tokens)
    {
        var byKey = new Dictionary<string, int>(StringComparer.Ordinal);
        var list = new List<Candidate>();
        for (int j = 0; j < beams; j++)
        {
            int row = clip * beams + j;
            for (int k = 0; k <= beams; k++)
            {
                int at = row * (beams + 1) + k;
                var seq = new List<int>(sequences[row]) { (int)tokens[at] };
                var cand = new Candidate(seq, sums[row] + logProbs[at], row);
                string key = string.Join(',', seq);
                if (byKey.TryGetValue(key, out int i)) list[i] = cand;
                else
                {
                    byKey[key] = list.Count;
                    list.Add(cand);
                }
            }
        }
        return list.OrderByDescending(c => c.Score).ToList(); // stable, as Python's sorted
    }

    WhisperGenerator.Decoded Best(int clip, List<(List<int> Tokens, double Score)> done, List<int>[] sequences, double[] sums)
    {
        var pool = done.Select(f => (Tokens: f.Tokens.Take(f.Tokens.Count - 1).ToList(), f.Score, Ended: true)).ToList();
        if (pool.Count < beams)
        {
            // Not enough finished: the live beams join, best first, as openai-whisper's finalize.
            var live = Enumerable.Range(clip * beams, beams).OrderByDescending(r => sums[r]);
            foreach (int r in live)
            {
                if (pool.Count >= beams) break;
                pool.Add((sequences[r], sums[r], false));
            }
        }
        var best = pool.OrderByDescending(p => p.Score / Math.Max(1, p.Tokens.Count)).First();
        return new WhisperGenerator.Decoded(best.Tokens, best.Score, best.Ended);
    }
}
