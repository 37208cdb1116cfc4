using System.Globalization;
using System.Text.Json.Nodes;

namespace PeftSharp.Data.Classification;

/// <summary>
/// Label names and their ids (HF's id2label / label2id). A dataset's label value maps to an id by name, or, when it is
/// an integer, as the id itself (SST-2 stores 0/1 and a config may name them negative/positive).
/// </summary>
public sealed class LabelMap
{
    readonly Dictionary<string, int> ids;

    /// <summary>Label names in id order: Names[i] is the label with id i (HF id2label).</summary>
    public IReadOnlyList<string> Names { get; }
    /// <summary>Number of labels (HF num_labels); at least 2.</summary>
    public int Count => Names.Count;

    /// <summary>A map whose ids are the positions of <paramref name="names"/>.</summary>
    /// <param name="names">Label names in id order.</param>
    /// <exception cref="ConfigurationException">Fewer than 2 names, or a name appears twice.</exception>
    public LabelMap(IReadOnlyList<string> names)
    {
        if (names.Count < 2) throw new ConfigurationException($"a classifier needs at least 2 labels, found {names.Count}: check the label column or the labels setting");
        ids = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < names.Count; i++)
            if (!ids.TryAdd(names[i], i)) throw new ConfigurationException($"label name '{names[i]}' appears twice in the label list");
        Names = names;
    }

    /// <summary>
    /// The labels found in a dataset: integers 0..K-1 in numeric order (named by their digits), anything else sorted
    /// by name, so the same data always gives the same ids.
    /// </summary>
    public static LabelMap FromValues(IEnumerable<string> values)
    {
        var distinct = values.Distinct(StringComparer.Ordinal).ToList();
        if (distinct.All(v => int.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out _)))
        {
            var numbers = distinct.Select(v => int.Parse(v, CultureInfo.InvariantCulture)).Order().ToList();
            if (numbers.Count > 0 && (numbers[0] != 0 || numbers[^1] != numbers.Count - 1))
                throw new ConfigurationException(
                    $"integer labels must be the ids 0..K-1, found {string.Join(", ", numbers.Take(10))}: renumber them, or give the label names with the labels setting");
            return new LabelMap(numbers.Select(n => n.ToString(CultureInfo.InvariantCulture)).ToList());
        }
        return new LabelMap(distinct.Order(StringComparer.Ordinal).ToList());
    }

    /// <summary>The id of a label value: a name, or an integer id within range; null when it is neither.</summary>
    public int? TryId(string value)
    {
        if (ids.TryGetValue(value, out int id)) return id;
        if (int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out int n) && n >= 0 && n < Count) return n;
        return null;
    }

    /// <summary>id2label / label2id / num_labels, as HF's config.json carries them.</summary>
    public void WriteTo(JsonObject config)
    {
        var id2label = new JsonObject();
        var label2id = new JsonObject();
        for (int i = 0; i < Count; i++)
        {
            id2label[i.ToString(CultureInfo.InvariantCulture)] = Names[i];
            label2id[Names[i]] = i;
        }
        config["id2label"] = id2label;
        config["label2id"] = label2id;
        config["num_labels"] = Count;
    }
}
