namespace PeftSharp.Tests.Reliability.Fuzz;

/// <summary>
/// Issue 9, hostile and broken files: at least 10,000 seeded mutations of valid files per format (set
/// PEFTSHARP_FUZZ_ITERATIONS for longer runs, PEFTSHARP_FUZZ_SEED to change or reproduce a run). Every input must load or
/// throw <see cref="PeftSharpException"/>; no other exception, no hang, no allocation beyond a bound of the file size.
/// See <see cref="FuzzRunner"/> for the bounds, <see cref="FuzzCollection"/> for why they run alone.
/// </summary>
[Collection(FuzzCollection.Name)]
public class ReaderFuzzTests
{
    [Fact] public void SafeTensors_file_loads_or_is_refused() => FuzzRunner.Run(FuzzFormats.SafeTensors);
    [Fact] public void Llama_config_json_loads_or_is_refused() => FuzzRunner.Run(FuzzFormats.LlamaConfigJson);
    [Fact] public void Whisper_config_json_loads_or_is_refused() => FuzzRunner.Run(FuzzFormats.WhisperConfigJson);
    [Fact] public void Classifier_config_json_loads_or_is_refused() => FuzzRunner.Run(FuzzFormats.ClassifierConfigJson);
    [Fact] public void Adapter_config_json_loads_or_is_refused() => FuzzRunner.Run(FuzzFormats.AdapterConfigJson);
    [Fact] public void Tokenizer_json_loads_or_is_refused() => FuzzRunner.Run(FuzzFormats.TokenizerJson);
    [Fact] public void LlamaC_checkpoint_loads_or_is_refused() => FuzzRunner.Run(FuzzFormats.LlamaCCheckpoint);
    [Fact] public void LlamaC_tokenizer_bin_loads_or_is_refused() => FuzzRunner.Run(FuzzFormats.LlamaCTokenizer);
    [Fact] public void Wav_file_loads_or_is_refused() => FuzzRunner.Run(FuzzFormats.Wav);
    [Fact] public void Jsonl_dataset_loads_or_is_refused() => FuzzRunner.Run(FuzzFormats.Jsonl);
    [Fact] public void Json_array_dataset_loads_or_is_refused() => FuzzRunner.Run(FuzzFormats.JsonArray);
    [Fact] public void Csv_dataset_loads_or_is_refused() => FuzzRunner.Run(FuzzFormats.Csv);
    [Fact] public void Tsv_dataset_loads_or_is_refused() => FuzzRunner.Run(FuzzFormats.Tsv);
    [Fact] public void Plain_text_dataset_loads_or_is_refused() => FuzzRunner.Run(FuzzFormats.PlainText);
}
