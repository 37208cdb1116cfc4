using System.CommandLine;
using PeftSharp.IO.HuggingFace;

namespace PeftSharp.Cli.Commands;

/// <summary>`peftsharp download`: fetch a model from the Hugging Face Hub into the cache and print its folder.</summary>
internal static class DownloadCommand
{
    public static Command Create(TextWriter stdout)
    {
        var repo = new Argument<string>("repo")
        {
            Description = "Hub repo id: org/name, optionally /folder inside the repo and @revision (branch, tag or commit)",
        };
        var include = new Option<string[]>("--include")
        {
            Description = "Also download the files matching this glob (relative to the model's folder; repeatable), e.g. '*.bin' for checkpoints left out by default",
            AllowMultipleArgumentsPerToken = false,
        };
        var cacheDir = new Option<string?>("--cache-dir")
        {
            Description = "Hub cache folder (default: $HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub)",
        };
        var cmd = new Command("download",
            "Download a model's safetensors, config and tokenizer files from the Hugging Face Hub into the Hugging Face cache (resumable; " +
            "HF_TOKEN for gated models, HF_ENDPOINT for mirrors, HF_HUB_OFFLINE=1 to use the cache only) and print the model's folder")
        {
            repo, include, cacheDir,
        };
        cmd.SetAction(r =>
        {
            var text = r.GetValue(repo)!;
            if (!HubRepoId.TryParse(text, out var id))
                throw new ConfigurationException($"'{text}' is not a Hub repo id: pass org/name, optionally with /folder and @revision (e.g. karpathy/tinyllamas/stories260K@main)");
            var options = DownloadProgress.Options(r) with { Include = r.GetValue(include) ?? [] };
            if (r.GetValue(cacheDir) is { } dir) options = options with { CacheDir = dir };
            stdout.WriteLine(HubDownload.Model(id, options));
            return 0;
        });
        return cmd;
    }
}
