using PeftSharp.Tests.Support;
using System.Text;
using PeftSharp.Tokenization.Llama2c;

namespace PeftSharp.Tests.Tokenization;

/// <summary>Checks the heap-based merge against a literal transcription of run.c's O(n^2) encode loop.</summary>
public class Llama2cReferenceTests
{
    private static List<int> RunCEncode(Llama2cTokenizer tok, string text)
    {
        var tokens = new List<int>();
        var bytes = Encoding.UTF8.GetBytes(text);
        if (bytes.Length > 0) tokens.Add(tok.TokenToId(" ")!.Value);
        for (int i = 0; i < bytes.Length;)
        {
            int len = 1;
            while (i + len < bytes.Length && (bytes[i + len] & 0xC0) == 0x80 && len < 4) len++;
            if (tok.TokenToId(Encoding.UTF8.GetString(bytes, i, len)) is int id) tokens.Add(id);
            else for (int k = 0; k < len; k++) tokens.Add(bytes[i + k] + 3);
            i += len;
        }
        while (true)
        {
            float best = -1e10f;
            int bestId = -1, bestIdx = -1;
            for (int i = 0; i + 1 < tokens.Count; i++)
                if (tok.TokenToId(tok.IdToToken(tokens[i]) + tok.IdToToken(tokens[i + 1])) is int id && tok.Score(id) > best)
                    (best, bestId, bestIdx) = (tok.Score(id), id, i);
            if (bestIdx == -1) break;
            tokens[bestIdx] = bestId;
            tokens.RemoveAt(bestIdx + 1);
        }
        return tokens;
    }

    [Fact]
    public void Heap_merge_equals_run_c_on_shakespeare()
    {
        var tok = new Llama2cTokenizer(Fixtures.Require("models", "stories260K", "tok512.bin"), 512);
        var lines = File.ReadLines(Fixtures.Require("data", "tinyshakespeare.txt")).Take(400).ToList();
        lines.Add(string.Join(" ", lines.Take(40))); // one long input
        foreach (var line in lines)
            Assert.Equal(RunCEncode(tok, line), tok.Encode(line, addSpecialTokens: false));
    }
}
