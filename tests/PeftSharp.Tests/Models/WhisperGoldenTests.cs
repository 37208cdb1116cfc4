using PeftSharp.Generation.Whisper;
using PeftSharp.IO.SafeTensors;
using PeftSharp.Models.Whisper;
using PeftSharp.Tests.Support;
using PeftSharp.Tokenization.Whisper;

namespace PeftSharp.Tests.Models;

/// <summary>A tiny random WhisperForConditionalGeneration saved by transformers: our logits and greedy tokens against theirs.</summary>
public class WhisperGoldenTests
{
    [Fact]
    public void Matches_transformers_logits_and_greedy_tokens()
    {
        string folder = Fixtures.Golden("whisper", "tiny_random");
        if (!File.Exists(Path.Combine(folder, "golden.safetensors")))
            Assert.Skip("no golden Whisper yet: run `python3 tools/golden/make_golden_whisper.py tests/PeftSharp.Tests/Golden` " +
                "(needs torch, transformers, safetensors) and commit tests/PeftSharp.Tests/Golden/whisper/tiny_random");
        string tiktoken = Fixtures.Require("whisper", "multilingual.tiktoken");
        using var whisper = PretrainedWhisper.Load(folder, new PeftSharp.Models.ModelLoadOptions { TokenizerPath = tiktoken });
        Assert.Empty(whisper.LoadReport.Unexpected);
        using var golden = SafeTensorsCheckpoint.Open(Path.Combine(folder, "golden.safetensors"));
        using var features = golden.Load("input_features");
        using var ids = golden.Load("decoder_input_ids");
        using var expected = golden.Load("logits");
        using var _ = no_grad();
        using var actual = whisper.Model.Forward(features, ids);
        Assert.True(actual.sub(expected).abs().max().item<float>() < 1e-4, "logits differ from transformers'");

        using var greedy = golden.Load("greedy_tokens"); // [B, prefix + new], as generate returns them (end-of-text included)
        using var maxNew = golden.Load("max_new_tokens");
        var result = whisper.NewGenerator().Generate(features, new WhisperDecodingOptions { Language = "en", MaxNewTokens = (int)maxNew.item<long>() });
        var specials = whisper.SpecialTokens;
        for (int i = 0; i < result.Count; i++)
        {
            var row = greedy[i].data<long>().Select(x => (int)x).ToList();
            var sampled = row.Skip(4).TakeWhile(t => t != specials.EndOfText).ToList();
            Assert.Equal(row.Take(4), result[i].Prefix);
            Assert.Equal(sampled, result[i].Tokens);
        }
    }
}
