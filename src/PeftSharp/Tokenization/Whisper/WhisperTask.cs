namespace PeftSharp.Tokenization.Whisper;

/// <summary>What a multilingual Whisper model is asked to do: write the speech in its language, or in English.</summary>
public enum WhisperTask
{
    /// <summary>Write the speech in the language spoken (&lt;|transcribe|&gt;); the default.</summary>
    Transcribe,
    /// <summary>Write an English translation of the speech (&lt;|translate|&gt;).</summary>
    Translate,
}
