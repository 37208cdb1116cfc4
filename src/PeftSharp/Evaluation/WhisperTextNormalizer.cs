using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace PeftSharp.Evaluation;

/// <summary>
/// Transcript normalization before WER/CER, after Whisper's normalizers, so that casing, punctuation and annotations
/// do not count as errors. Basic mode (Whisper's BasicTextNormalizer, any language): lowercase; drop [bracketed],
/// &lt;angled&gt; and (parenthesised) spans such as "[MUSIC]" or "(inaudible)"; replace every mark, symbol and punctuation
/// character (Unicode categories M, S, P) with a space; collapse whitespace. English mode (a modest subset of Whisper's
/// EnglishTextNormalizer) also drops diacritics ("café" -> "cafe", "straße" -> "strasse"), the fillers hmm/mm/mhm/mmm/uh/um, and expands
/// contractions as Whisper does ("won't" -> "will not", "it's" -> "it is", "we'd" -> "we would"; "'s" always becomes
/// "is", possessives included, which is harmless because both sides are normalized alike). Not done, unlike Whisper:
/// number and currency normalization ("twenty" vs "20") and British-to-American spelling.
/// </summary>
public sealed class WhisperTextNormalizer
{
    /// <summary>
    /// True for English mode (Whisper's EnglishTextNormalizer subset: contractions, fillers, diacritics), false for
    /// basic mode.
    /// </summary>
    public bool English { get; }

    /// <summary>Creates a normaliser; see the class for what each mode does.</summary>
    /// <param name="english">True (default) for English mode, false for basic mode (any language).</param>
    public WhisperTextNormalizer(bool english = true) => English = english;

    /// <summary>
    /// A shared basic-mode normaliser (Whisper's BasicTextNormalizer), for languages other than English.
    /// </summary>
    public static WhisperTextNormalizer Basic { get; } = new(english: false);

    static readonly Regex Annotations = new(@"[<\[][^>\]]*[>\]]|\([^)]+?\)", RegexOptions.Compiled);
    static readonly Regex Fillers = new(@"\b(hmm|mm|mhm|mmm|uh|um)\b", RegexOptions.Compiled);
    static readonly Regex SpaceBeforeApostrophe = new(@"\s+'", RegexOptions.Compiled);
    static readonly Regex Whitespace = new(@"\s+", RegexOptions.Compiled);

    // Order matters: the whole-word forms before the generic suffixes ("won't" must not become "wo not").
    static readonly (Regex Pattern, string Replacement)[] Contractions = new (string, string)[]
    {
        (@"\bwon't\b", "will not"), (@"\bcan't\b", "can not"), (@"\blet's\b", "let us"), (@"\bain't\b", "aint"),
        (@"\by'all\b", "you all"), (@"\bwanna\b", "want to"), (@"\bgotta\b", "got to"), (@"\bgonna\b", "going to"),
        (@"n't\b", " not"), (@"'re\b", " are"), (@"'s\b", " is"), (@"'d\b", " would"), (@"'ll\b", " will"),
        (@"'ve\b", " have"), (@"'m\b", " am"),
    }.Select(p => (new Regex(p.Item1, RegexOptions.Compiled), p.Item2)).ToArray();

    /// <summary>in English mode, contractions expanded, fillers and diacritics dropped); thread-safe.</summary>
    /// <paramref name="text"/> lower-cased, with annotations, punctuation and symbols removed and whitespace collapsed
    /// (and,
    public string Normalize(string text)
    {
        var s = text.ToLowerInvariant().Replace('\u2019', '\''); // a typographic apostrophe is still an apostrophe
        s = Annotations.Replace(s, "");
        if (English)
        {
            s = Fillers.Replace(s, "");
            s = SpaceBeforeApostrophe.Replace(s, "'");
            foreach (var (pattern, replacement) in Contractions) s = pattern.Replace(s, replacement);
        }
        s = StripSymbols(s, dropDiacritics: English);
        return Whitespace.Replace(s, " ").Trim();
    }

    /// <summary>
    /// Mark, symbol and punctuation characters become spaces; with dropDiacritics, non-spacing marks are removed and
    /// accented Latin letters folded to their base letters. Unicode (NFKC/NFKD) normalization only takes effect where
    /// .NET has ICU; under InvariantGlobalization (this repository's default) it is a no-op, so the Latin-1 and Latin
    /// Extended-A letters are folded by <see cref="LatinFolds"/> instead (as Whisper's extra table does for æ, ø, ß, ł...).
    /// </summary>
    static string StripSymbols(string s, bool dropDiacritics)
    {
        s = s.Normalize(dropDiacritics ? NormalizationForm.FormKD : NormalizationForm.FormKC);
        var sb = new StringBuilder(s.Length);
        foreach (var c in s)
        {
            var category = CharUnicodeInfo.GetUnicodeCategory(c);
            if (dropDiacritics && category == UnicodeCategory.NonSpacingMark) continue;
            if (dropDiacritics && LatinFolds.TryGetValue(c, out var folded)) sb.Append(folded);
            else sb.Append(IsMarkSymbolOrPunctuation(category) ? ' ' : c);
        }
        return sb.ToString();
    }

    // Lowercase only: text is lowercased before folding.
    static readonly Dictionary<char, string> LatinFolds =
        ("àa áa âa ãa äa åa æae çc èe ée êe ëe ìi íi îi ïi ðd ñn òo óo ôo õo öo øo ùu úu ûu üu ýy ÿy þth ßss " +
         "āa ăa ąa ćc ĉc ċc čc ďd đd ēe ĕe ėe ęe ěe ĝg ğg ġg ģg ĥh ħh ĩi īi ĭi įi ıi ĳij ĵj ķk ĸk ĺl ļl ľl ŀl łl " +
         "ńn ņn ňn ŉn ŋn ōo ŏo őo œoe ŕr ŗr řr śs ŝs şs šs ţt ťt ŧt ũu ūu ŭu ůu űu ųu ŵw ŷy źz żz žz ſs")
        .Split(' ').ToDictionary(p => p[0], p => p[1..]);

    static bool IsMarkSymbolOrPunctuation(UnicodeCategory c) => c switch
    {
        UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark or UnicodeCategory.EnclosingMark => true,
        UnicodeCategory.MathSymbol or UnicodeCategory.CurrencySymbol or UnicodeCategory.ModifierSymbol or UnicodeCategory.OtherSymbol => true,
        UnicodeCategory.ConnectorPunctuation or UnicodeCategory.DashPunctuation or UnicodeCategory.OpenPunctuation
            or UnicodeCategory.ClosePunctuation or UnicodeCategory.InitialQuotePunctuation or UnicodeCategory.FinalQuotePunctuation
            or UnicodeCategory.OtherPunctuation => true,
        _ => false,
    };
}
