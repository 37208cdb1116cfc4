namespace PeftSharp.Data;

/// <summary>Picks the format from a record's fields: messages/conversations, then prompt+completion, then instruction, then text.</summary>
public static class FormatDetector
{
    /// <summary>The format of <paramref name="record"/>, judged by which of <paramref name="names"/> it has.</summary>
    /// <exception cref="ConfigurationException">No known field is present; the message lists the record's fields and the expected ones.</exception>
    public static DataFormat Detect(Record record, FieldNames names)
    {
        if (record.Has(names.Messages) || record.Has(names.Conversations)) return DataFormat.Messages;
        if (record.Has(names.Prompt) && record.Has(names.Completion)) return DataFormat.PromptCompletion;
        if (record.Has(names.Instruction) && (record.Has(names.Output) || record.Has(names.Instances))) return DataFormat.Alpaca;
        if (record.Has(names.Text)) return DataFormat.Text;
        throw new ConfigurationException(
            $"{record.Location}: cannot tell the dataset format from the fields ({string.Join(", ", record.Fields.Keys)}); " +
            $"expected '{names.Text}' (text), '{names.Instruction}'+'{names.Output}' (alpaca), '{names.Messages}' or '{names.Conversations}' (messages), " +
            $"'{names.Prompt}'+'{names.Completion}' (prompt_completion); set format and the *_field options");
    }
}
