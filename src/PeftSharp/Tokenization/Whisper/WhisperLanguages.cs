namespace PeftSharp.Tokenization.Whisper;

/// <summary>
/// Whisper's language codes in the order of its language tokens (OpenAI Whisper's <c>LANGUAGES</c>): the first
/// <c>num_languages</c> of them have tokens (99 for most checkpoints, 100 with "yue" for large-v3).
/// </summary>
public static class WhisperLanguages
{
    /// <summary>(code, English name) in token order.</summary>
    public static IReadOnlyList<(string Code, string Name)> All { get; } =
    [
        ("en", "english"), ("zh", "chinese"), ("de", "german"), ("es", "spanish"), ("ru", "russian"),
        ("ko", "korean"), ("fr", "french"), ("ja", "japanese"), ("pt", "portuguese"), ("tr", "turkish"),
        ("pl", "polish"), ("ca", "catalan"), ("nl", "dutch"), ("ar", "arabic"), ("sv", "swedish"),
        ("it", "italian"), ("id", "indonesian"), ("hi", "hindi"), ("fi", "finnish"), ("vi", "vietnamese"),
        ("he", "hebrew"), ("uk", "ukrainian"), ("el", "greek"), ("ms", "malay"), ("cs", "czech"),
        ("ro", "romanian"), ("da", "danish"), ("hu", "hungarian"), ("ta", "tamil"), ("no", "norwegian"),
        ("th", "thai"), ("ur", "urdu"), ("hr", "croatian"), ("bg", "bulgarian"), ("lt", "lithuanian"),
        ("la", "latin"), ("mi", "maori"), ("ml", "malayalam"), ("cy", "welsh"), ("sk", "slovak"),
        ("te", "telugu"), ("fa", "persian"), ("lv", "latvian"), ("bn", "bengali"), ("sr", "serbian"),
        ("az", "azerbaijani"), ("sl", "slovenian"), ("kn", "kannada"), ("et", "estonian"), ("mk", "macedonian"),
        ("br", "breton"), ("eu", "basque"), ("is", "icelandic"), ("hy", "armenian"), ("ne", "nepali"),
        ("mn", "mongolian"), ("bs", "bosnian"), ("kk", "kazakh"), ("sq", "albanian"), ("sw", "swahili"),
        ("gl", "galician"), ("mr", "marathi"), ("pa", "punjabi"), ("si", "sinhala"), ("km", "khmer"),
        ("sn", "shona"), ("yo", "yoruba"), ("so", "somali"), ("af", "afrikaans"), ("oc", "occitan"),
        ("ka", "georgian"), ("be", "belarusian"), ("tg", "tajik"), ("sd", "sindhi"), ("gu", "gujarati"),
        ("am", "amharic"), ("yi", "yiddish"), ("lo", "lao"), ("uz", "uzbek"), ("fo", "faroese"),
        ("ht", "haitian creole"), ("ps", "pashto"), ("tk", "turkmen"), ("nn", "nynorsk"), ("mt", "maltese"),
        ("sa", "sanskrit"), ("lb", "luxembourgish"), ("my", "myanmar"), ("bo", "tibetan"), ("tl", "tagalog"),
        ("mg", "malagasy"), ("as", "assamese"), ("tt", "tatar"), ("haw", "hawaiian"), ("ln", "lingala"),
        ("ha", "hausa"), ("ba", "bashkir"), ("jw", "javanese"), ("su", "sundanese"), ("yue", "cantonese"),
    ];

    /// <summary>Languages of most checkpoints (tiny .. large-v2).</summary>
    public const int DefaultCount = 99;

    private static readonly Dictionary<string, string> Aliases = new(StringComparer.OrdinalIgnoreCase)
    {
        ["burmese"] = "my", ["valencian"] = "ca", ["flemish"] = "nl", ["haitian"] = "ht", ["letzeburgesch"] = "lb",
        ["pushto"] = "ps", ["panjabi"] = "pa", ["moldavian"] = "ro", ["moldovan"] = "ro", ["sinhalese"] = "si",
        ["castilian"] = "es", ["mandarin"] = "zh",
    };

    /// <summary>The code of a language given by code or English name (any case, with Whisper's aliases), or null.</summary>
    public static string? ToCode(string language)
    {
        ArgumentNullException.ThrowIfNull(language);
        string key = language.Trim();
        foreach (var (code, name) in All)
            if (string.Equals(code, key, StringComparison.OrdinalIgnoreCase) || string.Equals(name, key, StringComparison.OrdinalIgnoreCase))
                return code;
        return Aliases.TryGetValue(key, out var alias) ? alias : null;
    }
}
