using System.Text;
using System.Text.Json;
using PeftSharp.Adapters.Lora;
using PeftSharp.IO.HuggingFace;
using PeftSharp.IO.SafeTensors;
using PeftSharp.Models;
using PeftSharp.Peft;
using PeftSharp.Tests.Support;

namespace PeftSharp.Tests.Reliability;

/// <summary>
/// PyTorch pickle checkpoints are never unpickled: every load path that can meet one refuses it with a message that
/// says how to convert it to safetensors. The hostile pickle below would run `touch marker` if anything unpickled it.
/// </summary>
public sealed class PickleRefusalTests : IDisposable
{
    private readonly TempDir _dir = Fixtures.NewTempDir();
    private string Marker => _dir.File("pwned-marker");

    /// <summary>Protocol-0 pickle: GLOBAL os.system, MARK, STRING command, TUPLE, REDUCE, STOP = os.system("touch marker").</summary>
    private byte[] HostilePickle => Encoding.ASCII.GetBytes($"cos\nsystem\n(S'touch {Marker}'\ntR.");

    public void Dispose() => _dir.Dispose();

    private string Folder(string name, params (string File, byte[] Bytes)[] files)
    {
        string folder = Path.Combine(_dir.Path, name);
        Directory.CreateDirectory(folder);
        foreach (var (file, bytes) in files) File.WriteAllBytes(Path.Combine(folder, file), bytes);
        return folder;
    }

    private static byte[] LlamaConfigJson => JsonSerializer.SerializeToUtf8Bytes(TinyModels.Config().ToJson());

    private void AssertRefused(Action load, string file)
    {
        var e = Assert.ThrowsAny<PeftSharpException>(load);
        Assert.Contains("pickle", e.Message);
        Assert.Contains(file, e.Message);
        Assert.Contains("safetensors.torch import save_file", e.Message);
        Assert.Contains("safe_serialization=True", e.Message);
        Assert.False(File.Exists(Marker), "the pickle was executed");
    }

    [Theory]
    [InlineData("pytorch_model.bin")]
    [InlineData("model.pt")]
    [InlineData("model.pth")]
    [InlineData("last.ckpt")]
    public void A_direct_path_to_a_pickle_is_refused(string name)
    {
        string path = _dir.File(name);
        File.WriteAllBytes(path, HostilePickle);
        AssertRefused(() => ModelLocator.Resolve(path), name);
        AssertRefused(() => PretrainedCausalLM.Load(path), name);
        AssertRefused(() => SafeTensorsCheckpoint.Open(path).Dispose(), name);
    }

    [Fact]
    public void A_model_folder_holding_only_pytorch_model_bin_is_refused()
    {
        string folder = Folder("hf", ("config.json", LlamaConfigJson), ("pytorch_model.bin", HostilePickle));
        AssertRefused(() => PretrainedCausalLM.Load(folder), "pytorch_model.bin");
        AssertRefused(() => SafeTensorsCheckpoint.Open(folder).Dispose(), "pytorch_model.bin");
    }

    [Fact]
    public void A_sharded_pickle_checkpoint_is_refused()
    {
        string folder = Folder("sharded", ("config.json", LlamaConfigJson),
            ("pytorch_model.bin.index.json", Encoding.UTF8.GetBytes("""{"weight_map": {"lm_head.weight": "pytorch_model-00001-of-00001.bin"}}""")),
            ("pytorch_model-00001-of-00001.bin", HostilePickle));
        AssertRefused(() => PretrainedCausalLM.Load(folder), "pytorch_model-00001-of-00001.bin");
    }

    [Fact]
    public void A_folder_without_config_holding_a_pickle_is_refused()
    {
        // A .bin in a folder without config.json could be llama2.c: only its 28-byte header is sniffed, then refused.
        string folder = Folder("bare", ("pytorch_model.bin", HostilePickle), ("model.pt", [0x50, 0x4B, 0x03, 0x04, 0, 0]));
        AssertRefused(() => ModelLocator.Resolve(folder), "model.pt");
    }

    [Fact]
    public void An_adapter_folder_holding_only_adapter_model_bin_is_refused()
    {
        var config = new LoraConfig { TargetModules = ["q_proj"] };
        string folder = Folder("adapter", ("adapter_config.json", JsonSerializer.SerializeToUtf8Bytes(config.ToJson())), ("adapter_model.bin", HostilePickle));
        using var model = TinyModels.Random(TinyModels.Config());
        AssertRefused(() => AdapterFolder.Load(model, folder), "adapter_model.bin");
        Assert.Contains("adapter_model.safetensors", Assert.ThrowsAny<PeftSharpException>(() => AdapterFolder.Load(model, folder)).Message);
    }
}
