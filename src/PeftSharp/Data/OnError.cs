namespace PeftSharp.Data;

/// <summary>What to do with a malformed record: skip it (counted, then one warning) or stop with an error.</summary>
public enum OnError
{
    /// <summary>Skip the record, count it by reason, and warn once at the end (default).</summary>
    Skip,
    /// <summary>Throw at the first malformed record, naming its file and line.</summary>
    Fail,
}
