using System.Text.Json;
using PeftSharp.Data;
using PeftSharp.Tests.Support;
using Record = PeftSharp.Data.Record;

namespace PeftSharp.Tests.Data;

public class TemplateAndFormatTests
{
    static readonly ChatMessage[] Conversation =
    [
        new("system", "Be brief."), new("user", "Hi"), new("assistant", "Hello!"),
        new("user", "How are you?"), new("assistant", "Fine."),
    ];

    static string Trained(ChatTemplate t) => string.Concat(t.RenderSegments(Conversation).Where(s => s.Trainable).Select(s => s.Text));

    [Fact]
    public void ChatMl_renders_as_Qwen2_does_and_trains_assistant_content_with_im_end()
    {
        Assert.Equal(
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello!<|im_end|>\n" +
            "<|im_start|>user\nHow are you?<|im_end|>\n<|im_start|>assistant\nFine.<|im_end|>\n",
            ChatTemplate.ChatMl.Render(Conversation));
        Assert.Equal("Hello!<|im_end|>Fine.<|im_end|>", Trained(ChatTemplate.ChatMl));
    }

    [Fact]
    public void Llama3_renders_headers_and_eot()
    {
        Assert.Equal(
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>" +
            "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nHello!<|eot_id|>" +
            "<|start_header_id|>user<|end_header_id|>\n\nHow are you?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nFine.<|eot_id|>",
            ChatTemplate.Llama3.Render(Conversation));
        Assert.Equal("Hello!<|eot_id|>Fine.<|eot_id|>", Trained(ChatTemplate.Llama3));
        Assert.DoesNotContain(ChatTemplate.Llama3.RenderSegments(Conversation), s => s.Text.Contains("<|begin_of_text|>"));
    }

    [Fact]
    public void Llama2_puts_the_system_prompt_inside_the_first_inst()
    {
        Assert.Equal(
            "<s>[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi [/INST] Hello! </s><s>[INST] How are you? [/INST] Fine. </s>",
            ChatTemplate.Llama2.Render(Conversation));
        Assert.Equal(" Hello! </s> Fine. </s>", Trained(ChatTemplate.Llama2));
    }

    [Fact]
    public void Alpaca_renders_turns_as_instructions_and_the_stanford_prompt_for_records()
    {
        Assert.Equal(
            "Be brief.\n\n### Instruction:\nHi\n\n### Response:\nHello!\n\n### Instruction:\nHow are you?\n\n### Response:\nFine.",
            ChatTemplate.Alpaca.Render(Conversation));
        Assert.Equal(
            "Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n### Instruction:\nAdd.\n\n### Response:\n",
            AlpacaTemplate.Prompt("Add.", ""));
        Assert.Equal(
            "Below is an instruction that describes a task, paired with an input that provides further context. Write a response that appropriately completes the request.\n\n" +
            "### Instruction:\nAdd.\n\n### Input:\n2 3\n\n### Response:\n",
            AlpacaTemplate.Prompt("Add.", "2 3"));
    }

    [Fact]
    public void Custom_template_cuts_one_section_per_role_and_trains_the_assistant_suffix()
    {
        var t = ChatTemplate.Parse("<|system|>\n{system}</s>\n<|user|>\n{user}</s>\n<|assistant|>\n{assistant}</s>\n");
        Assert.Equal(
            "<|system|>\nBe brief.</s>\n<|user|>\nHi</s>\n<|assistant|>\nHello!</s>\n<|user|>\nHow are you?</s>\n<|assistant|>\nFine.</s>\n",
            t.Render(Conversation));
        Assert.Equal("Hello!</s>\nFine.</s>\n", Trained(t));
        Assert.Throws<ConfigurationException>(() => ChatTemplate.Parse("{assistant} then {user}"));
    }

    [Fact]
    public void FromTokenizerConfig_recognises_families_and_otherwise_lists_the_names()
    {
        using var dir = Fixtures.NewTempDir();
        void Write(string? template) => File.WriteAllText(dir.File("tokenizer_config.json"),
            template is null ? "{}" : JsonSerializer.Serialize(new Dictionary<string, string> { ["chat_template"] = template }));
        Write("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}");
        Assert.Same(ChatTemplate.ChatMl, ChatTemplate.FromTokenizerConfig(dir.Path));
        Write("{{ bos_token }}{% for m in messages %}<|start_header_id|>{{ m.role }}<|end_header_id|>{% endfor %}");
        Assert.Same(ChatTemplate.Llama3, ChatTemplate.FromTokenizerConfig(dir.Path));
        Write("{% for m in messages %}{{ '[INST] ' + m.content + ' [/INST]' }}{% endfor %}");
        Assert.Same(ChatTemplate.Llama2, ChatTemplate.FromTokenizerConfig(dir.Path));
        Write("{% for m in messages %}<|user|>{{ m.content }}{% endfor %}");
        var e = Assert.Throws<ConfigurationException>(() => ChatTemplate.FromTokenizerConfig(dir.Path));
        Assert.Contains("chatml", e.Message);
        Write(null);
        Assert.Throws<ConfigurationException>(() => ChatTemplate.FromTokenizerConfig(dir.Path));
    }

    static Record R(string json) => new(
        JsonDocument.Parse(json).RootElement.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.Clone()), "t.jsonl", 1);

    [Theory]
    [InlineData("{\"text\":\"x\"}", DataFormat.Text)]
    [InlineData("{\"instruction\":\"i\",\"input\":\"\",\"output\":\"o\"}", DataFormat.Alpaca)]
    [InlineData("{\"instruction\":\"i\",\"instances\":[{\"input\":\"\",\"output\":\"o\"}]}", DataFormat.Alpaca)]
    [InlineData("{\"messages\":[{\"role\":\"user\",\"content\":\"u\"}]}", DataFormat.Messages)]
    [InlineData("{\"conversations\":[{\"from\":\"human\",\"value\":\"u\"}]}", DataFormat.Messages)]
    [InlineData("{\"prompt\":\"p\",\"completion\":\"c\",\"text\":\"t\"}", DataFormat.PromptCompletion)]
    public void Format_is_detected_from_the_first_record(string json, DataFormat expected) =>
        Assert.Equal(expected, FormatDetector.Detect(R(json), new FieldNames()));

    [Fact]
    public void Undetectable_record_names_the_location_and_fields()
    {
        var e = Assert.Throws<ConfigurationException>(() => FormatDetector.Detect(R("{\"foo\":1}"), new FieldNames()));
        Assert.Contains("t.jsonl:1", e.Message);
        Assert.Contains("foo", e.Message);
    }

    [Fact]
    public void ShareGPT_roles_map_to_user_and_assistant()
    {
        var f = new RecordFormatter(DataFormat.Messages, new FieldNames(), ChatTemplate.ChatMl);
        var segs = Assert.Single(f.Format(R("{\"conversations\":[{\"from\":\"system\",\"value\":\"s\"},{\"from\":\"human\",\"value\":\"u\"},{\"from\":\"gpt\",\"value\":\"a\"}]}")));
        Assert.Equal("<|im_start|>system\ns<|im_end|>\n<|im_start|>user\nu<|im_end|>\n<|im_start|>assistant\na<|im_end|>\n", string.Concat(segs.Select(s => s.Text)));
        Assert.Equal("a<|im_end|>", string.Concat(segs.Where(s => s.Trainable).Select(s => s.Text)));
    }

    [Fact]
    public void Prompt_completion_trains_only_the_completion_and_bad_records_throw_record_errors()
    {
        var f = new RecordFormatter(DataFormat.PromptCompletion, new FieldNames(), null);
        Assert.Equal([new Segment("p", false), new Segment("c", true)], Assert.Single(f.Format(R("{\"prompt\":\"p\",\"completion\":\"c\"}"))));
        var e = Assert.Throws<RecordFormatException>(() => f.Format(R("{\"prompt\":\"p\",\"completion\":5}")));
        Assert.Equal("wrong type", e.Reason);
        var alpaca = new RecordFormatter(DataFormat.Alpaca, new FieldNames(), null);
        Assert.Equal("missing field 'output'", Assert.Throws<RecordFormatException>(() => alpaca.Format(R("{\"instruction\":\"i\"}"))).Reason);
    }
}
