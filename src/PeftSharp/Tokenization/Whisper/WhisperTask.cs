namespace PeftSharp.Tokenization.Whisper;

/// <summary>What a multilingual Whisper model is asked to do: write the speech in its language, or in English.</summary>
public enum WhisperTask
{
    Transcribe,
    Translate,
}
