using System.Globalization;

namespace PeftSharp.Data.Classification;

/// <summary>Per-class loss weights for imbalanced data: none, "balanced" (scikit-learn's n / (k * count_c)), or given.</summary>
public static class ClassWeights
{
    /// <summary>Null when <paramref name="setting"/> is null or "none".</summary>
    public static float[]? Resolve(string? setting, IReadOnlyList<int> labels, LabelMap map)
    {
        if (setting is null || setting.Equals("none", StringComparison.OrdinalIgnoreCase)) return null;
        if (setting.Equals("balanced", StringComparison.OrdinalIgnoreCase)) return Balanced(labels, map.Count);
        return Given(setting, map);
    }

    /// <summary>
    /// Checks a setting before any data is read: its entries, and their count when the labels are already known.
    /// </summary>
    public static void Validate(string? setting, LabelMap? labels)
    {
        if (setting is null || setting.Equals("none", StringComparison.OrdinalIgnoreCase) || setting.Equals("balanced", StringComparison.OrdinalIgnoreCase)) return;
        Given(setting, labels);
    }

    static float[] Given(string setting, LabelMap? map)
    {
        var parts = setting.Trim('[', ']').Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        var weights = new float[parts.Length];
        for (int i = 0; i < parts.Length; i++)
            if (!float.TryParse(parts[i], NumberStyles.Float, CultureInfo.InvariantCulture, out weights[i]) || !(weights[i] > 0) || !float.IsFinite(weights[i]))
                throw new ConfigurationException($"class_weights entry '{parts[i]}' is not a positive number: use none, balanced, or one positive weight per label");
        if (map is not null && weights.Length != map.Count)
            throw new ConfigurationException($"class_weights has {weights.Length} entries but there are {map.Count} labels ({string.Join(", ", map.Names)}): give one weight per label, in label-id order");
        return weights;
    }

    /// <summary>
    /// scikit-learn's "balanced" weights: n / (k * count_c) for each class c, so every class contributes equally to the
    /// loss; 0 for a class that never occurs.
    /// </summary>
    /// <param name="labels">The label id of every training example (0..<paramref name="classes"/>-1).</param>
    /// <param name="classes">Number of classes k.</param>
    /// <returns>One weight per class, in label-id order.</returns>
    public static float[] Balanced(IReadOnlyList<int> labels, int classes)
    {
        var counts = new long[classes];
        foreach (int l in labels) counts[l]++;
        return counts.Select(c => c == 0 ? 0f : (float)((double)labels.Count / (classes * c))).ToArray();
    }
}
