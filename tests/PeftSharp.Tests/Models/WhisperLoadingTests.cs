using PeftSharp.Adapters.Lora;
using PeftSharp.Generation.Whisper;
using PeftSharp.Models;
using PeftSharp.Models.Whisper;
using PeftSharp.Nn.Quantized;
using PeftSharp.Peft;
using PeftSharp.Tests.Support;

namespace PeftSharp.Tests.Models;

/// <summary>PretrainedWhisper from an HF folder: keys, config errors, 4-bit loading, LoRA injection and merging.</summary>
public class WhisperLoadingTests
{
    static double MaxDiff(Tensor a, Tensor b) => a.sub(b).abs().max().item<float>();

    [Fact]
    public void Loads_every_key_of_an_HF_folder_and_reproduces_the_logits()
    {
        using var dir = Fixtures.NewTempDir();
        using var original = TinyWhisper.Random(seed: 11);
        TinyWhisper.WriteFolder(dir.Path, original);
        using var loaded = PretrainedWhisper.Load(dir.Path);
        int stored = original.state_dict().Count - 1; // proj_out.weight is tied, not stored
        Assert.Equal(stored, loaded.LoadReport.Loaded.Count);
        Assert.Empty(loaded.LoadReport.Unexpected);
        Assert.Equal(80, loaded.MelFilters.Bins);
        Assert.True(loaded.SpecialTokens.IsMultilingual);
        using var features = TinyWhisper.Features(1, seed: 12);
        using var ids = tensor(new long[] { 50258, 50259, 50359, 50363, 440 }, new long[] { 1, 5 });
        using var _ = no_grad();
        using var a = original.Forward(features, ids);
        using var b = loaded.Model.Forward(features, ids);
        Assert.Equal(0.0, MaxDiff(a, b));
    }

    [Fact]
    public void Computes_encoder_positions_when_the_checkpoint_lacks_them()
    {
        using var dir = Fixtures.NewTempDir();
        using var original = TinyWhisper.Random(seed: 13);
        TinyWhisper.WriteFolder(dir.Path, original, withEncoderPositions: false);
        using var loaded = PretrainedWhisper.Load(dir.Path);
        using var formula = WhisperEncoder.Sinusoids(1500, 64).to(ScalarType.Float32);
        Assert.True(MaxDiff(loaded.Model.model.encoder.embed_positions.weight, formula) < 1e-6);
    }

    [Fact]
    public void A_missing_or_misshaped_weight_is_named()
    {
        using var dir = Fixtures.NewTempDir();
        using var original = TinyWhisper.Random(seed: 14);
        TinyWhisper.WriteFolder(dir.Path, original, keep: k => k != "model.decoder.layers.1.fc2.bias");
        var missing = Assert.Throws<PeftSharpException>(() => PretrainedWhisper.Load(dir.Path));
        Assert.Contains("model.decoder.layers.1.fc2.bias", missing.Message);

        using var dir2 = Fixtures.NewTempDir();
        TinyWhisper.WriteFolder(dir2.Path, original);
        var config = TinyWhisper.Config() with { DecoderFfnDim = 96 };
        File.WriteAllText(Path.Combine(dir2.Path, "config.json"), config.ToJson().ToJsonString());
        var shape = Assert.Throws<PeftSharpException>(() => PretrainedWhisper.Load(dir2.Path));
        Assert.Contains("fc1.weight", shape.Message);
        Assert.Contains("[128, 64]", shape.Message);
    }

    [Theory]
    [InlineData("\"d_model\":64,", "\"d_model\":66,", "encoder_attention_heads")]
    [InlineData("\"activation_function\":\"gelu\"", "\"activation_function\":\"relu\"", "activation_function")]
    [InlineData("\"model_type\":\"whisper\"", "\"model_type\":\"llama\"", "model_type")]
    [InlineData("\"d_model\":64,", "", "d_model")]
    [InlineData("\"decoder_start_token_id\":50258", "\"decoder_start_token_id\":90000", "decoder_start_token_id")]
    [InlineData("\"encoder_layers\":2", "\"encoder_layers\":\"two\"", "encoder_layers")]
    public void A_malformed_config_is_rejected_naming_the_key(string find, string replace, string key)
    {
        using var dir = Fixtures.NewTempDir();
        var json = TinyWhisper.Config().ToJson().ToJsonString();
        Assert.Contains(find, json);
        File.WriteAllText(dir.File("config.json"), json.Replace(find, replace));
        var e = Assert.ThrowsAny<PeftSharpException>(() => WhisperConfig.FromFile(dir.File("config.json")));
        Assert.Contains(key, e.Message);
    }

    [Fact]
    public void Accepts_the_real_openai_configs()
    {
        using var dir = Fixtures.NewTempDir();
        // openai/whisper-tiny and large-v3-turbo as published (trimmed of unread fields only where they repeat).
        string tiny = """
        {"activation_dropout":0.0,"activation_function":"gelu","architectures":["WhisperForConditionalGeneration"],"attention_dropout":0.0,
         "begin_suppress_tokens":[220,50257],"bos_token_id":50257,"d_model":384,"decoder_attention_heads":6,"decoder_ffn_dim":1536,
         "decoder_layerdrop":0.0,"decoder_layers":4,"decoder_start_token_id":50258,"dropout":0.0,"encoder_attention_heads":6,
         "encoder_ffn_dim":1536,"encoder_layerdrop":0.0,"encoder_layers":4,"eos_token_id":50257,
         "forced_decoder_ids":[[1,50259],[2,50359],[3,50363]],"init_std":0.02,"is_encoder_decoder":true,"max_length":448,
         "max_source_positions":1500,"max_target_positions":448,"model_type":"whisper","num_hidden_layers":4,"num_mel_bins":80,
         "pad_token_id":50257,"scale_embedding":false,"suppress_tokens":[1,2,7,8,9,10,14,25,26,27,28,29,31,58,59,60,61,62,63],
         "torch_dtype":"float32","transformers_version":"4.27.0.dev0","use_cache":true,"vocab_size":51865}
        """;
        string turbo = """
        {"activation_dropout":0.0,"activation_function":"gelu","apply_spec_augment":false,"architectures":["WhisperForConditionalGeneration"],
         "attention_dropout":0.0,"begin_suppress_tokens":[220,50257],"bos_token_id":50257,"classifier_proj_size":256,"d_model":1280,
         "decoder_attention_heads":20,"decoder_ffn_dim":5120,"decoder_layerdrop":0.0,"decoder_layers":4,"decoder_start_token_id":50258,
         "dropout":0.0,"encoder_attention_heads":20,"encoder_ffn_dim":5120,"encoder_layerdrop":0.0,"encoder_layers":32,
         "eos_token_id":50257,"init_std":0.02,"is_encoder_decoder":true,"mask_feature_length":10,"max_source_positions":1500,
         "max_target_positions":448,"median_filter_width":7,"model_type":"whisper","num_hidden_layers":32,"num_mel_bins":128,
         "pad_token_id":50257,"scale_embedding":false,"torch_dtype":"float16","use_cache":true,"use_weighted_layer_sum":false,"vocab_size":51866}
        """;
        File.WriteAllText(dir.File("tiny.json"), tiny);
        File.WriteAllText(dir.File("turbo.json"), turbo);
        var t = WhisperConfig.FromFile(dir.File("tiny.json"));
        Assert.Equal((384, 4, 4, 6, 80, 51865), (t.DModel, t.EncoderLayers, t.DecoderLayers, t.DecoderAttentionHeads, t.NumMelBins, t.VocabSize));
        Assert.Equal(new[] { 220, 50257 }, t.BeginSuppressTokens);
        Assert.Equal(19, t.SuppressTokens!.Count);
        var v3 = WhisperConfig.FromFile(dir.File("turbo.json"));
        Assert.Equal((1280, 32, 4, 128, 51866, "float16"), (v3.DModel, v3.EncoderLayers, v3.DecoderLayers, v3.NumMelBins, v3.VocabSize, v3.TorchDtype));
        Assert.True(v3.TieWordEmbeddings);
    }

    [Fact]
    public void Loads_in_bfloat16_with_fp32_logits_close_to_the_fp32_model()
    {
        using var dir = Fixtures.NewTempDir();
        using var original = TinyWhisper.Random(seed: 19);
        TinyWhisper.WriteFolder(dir.Path, original);
        using var bf16 = PretrainedWhisper.Load(dir.Path, new ModelLoadOptions { DType = "bfloat16" });
        Assert.Equal(ScalarType.BFloat16, bf16.Model.model.encoder.conv1.weight!.dtype);
        using var features = TinyWhisper.Features(1, seed: 20);
        using var ids = tensor(new long[] { 50258, 50259, 50359, 50363, 440 }, new long[] { 1, 5 });
        using var _ = no_grad();
        using var dense = original.Forward(features, ids);
        using var half = bf16.Model.Forward(features, ids);
        Assert.Equal(ScalarType.Float32, half.dtype);
        double relative = dense.sub(half).norm().item<float>() / dense.norm().item<float>();
        Assert.True(relative < 0.1, $"bfloat16 logits are {relative:P1} away from the fp32 ones");
    }

    [Fact]
    public void Loads_in_4bit_nf4_and_still_decodes()
    {
        using var dir = Fixtures.NewTempDir();
        using var original = TinyWhisper.Random(seed: 15);
        TinyWhisper.WriteFolder(dir.Path, original);
        using var q = PretrainedWhisper.Load(dir.Path, new ModelLoadOptions { Quantization = new QuantizationConfig { LoadIn4Bit = true, Bnb4BitQuantType = "nf4" } });
        var layer = q.Model.model.decoder.layers[1];
        Assert.NotNull(layer.encoder_attn.q_proj.Quantized);
        Assert.NotNull(q.Model.model.encoder.layers[0].fc1.Quantized);
        Assert.Null(q.Model.proj_out.Quantized);
        using var features = TinyWhisper.Features(1, seed: 16);
        using var ids = tensor(new long[] { 50258, 50259, 50359, 50363, 440 }, new long[] { 1, 5 });
        using var _ = no_grad();
        using var dense = original.Forward(features, ids);
        using var quantized = q.Model.Forward(features, ids);
        double relative = dense.sub(quantized).norm().item<float>() / dense.norm().item<float>();
        Assert.True(relative is > 0 and < 0.5, $"4-bit logits are {relative:P1} away from the dense ones");
        var result = q.NewGenerator().Generate(features, new WhisperDecodingOptions { Language = "en", MaxNewTokens = 6 });
        Assert.Single(result);
        Assert.InRange(result[0].Tokens.Count, 0, 6);
    }

    [Fact]
    public void Lora_injects_into_encoder_and_decoder_starts_as_the_base_and_merges_exactly()
    {
        using var model = TinyWhisper.Random(seed: 17);
        using var features = TinyWhisper.Features(1, seed: 18);
        using var ids = tensor(new long[] { 50258, 50259, 50359, 50363, 440, 99 }, new long[] { 1, 6 });
        using var baseLogits = no_grad_forward(model, features, ids);
        var peft = PeftModel.Create(model, new LoraConfig { R = 4, LoraAlpha = 8, TargetModules = new[] { "q_proj", "v_proj", "fc1" } }, seed: 1);
        var targets = peft.Adapters["default"].Layers.Select(l => l.ModulePath).ToHashSet();
        Assert.Contains("model.encoder.layers.0.self_attn.q_proj", targets);
        Assert.Contains("model.encoder.layers.1.fc1", targets);
        Assert.Contains("model.decoder.layers.0.encoder_attn.v_proj", targets);
        Assert.Contains("model.decoder.layers.1.self_attn.v_proj", targets);
        Assert.Equal(2 * 3 + 2 * 5, targets.Count);
        using (var initial = no_grad_forward(model, features, ids)) Assert.True(MaxDiff(initial, baseLogits) < 1e-6);

        using (no_grad())
            foreach (var (name, p) in model.named_parameters().Where(p => p.name.Contains("lora_B")))
                p.copy_(0.05 * randn(p.shape, generator: new Generator().manual_seed(name.Length)));
        using var unmerged = no_grad_forward(model, features, ids);
        Assert.True(MaxDiff(unmerged, baseLogits) > 1e-3, "perturbing lora_B did not change the output");
        peft.Merge();
        using var merged = no_grad_forward(model, features, ids);
        Assert.True(MaxDiff(merged, unmerged) < 1e-3, "merged LoRA differs from the unmerged one");
    }

    static Tensor no_grad_forward(WhisperForConditionalGeneration model, Tensor features, Tensor ids)
    {
        using var _ = no_grad();
        return model.Forward(features, ids);
    }
}
