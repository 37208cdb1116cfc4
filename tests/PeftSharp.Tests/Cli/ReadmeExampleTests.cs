using PeftSharp.Generation;
using PeftSharp.Models;
using PeftSharp.Tests.Support;

namespace PeftSharp.Tests.Cli;

/// <summary>The README's library example, as written there (with the fixture path resolved).</summary>
public class ReadmeExampleTests
{
    [Fact]
    public void Library_example_generates_the_story()
    {
        var folder = Fixtures.Require("models", "stories260K");
        using var lm = PretrainedCausalLM.Load(folder);
        var prompt = lm.Tokenizer!.Encode("Once upon a time");
        var result = new TextGenerator(lm.Model).Generate(prompt,
            new SamplingOptions { MaxNewTokens = 50, StopTokenIds = lm.StopTokenIds() });
        var text = lm.Tokenizer.Decode(prompt.Concat(result.NewIds));
        Assert.StartsWith("Once upon a time, there was a little girl named Lily.", text);
    }
}
