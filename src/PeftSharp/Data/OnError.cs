namespace PeftSharp.Data;

/// <summary>What to do with a malformed record: skip it (counted, then one warning) or stop with an error.</summary>
public enum OnError
{
    Skip,
    Fail,
}
