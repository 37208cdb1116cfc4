using PeftSharp.IO.Numpy;

namespace PeftSharp.Audio;

/// <summary>
/// A mel filterbank: <see cref="Bins"/> triangular filters over the 201 frequency bins of a 400-point FFT at 16 kHz,
/// row-major [Bins, FrequencyBins]. Either read from Whisper's mel_filters.npz or computed with the Slaney mel scale
/// and Slaney (area) normalisation, as librosa.filters.mel(sr=16000, n_fft=400, n_mels=Bins) and transformers'
/// mel_filter_bank(..., norm="slaney", mel_scale="slaney") compute it.
/// </summary>
public sealed class MelFilterBank
{
    /// <summary>Frequency bins of a 400-point real FFT (n_fft / 2 + 1 = 201), covering 0..8000 Hz at 16 kHz.</summary>
    public const int FrequencyBins = LogMelSpectrogram.NFft / 2 + 1;

    /// <summary>
    /// Number of mel filters (the model's num_mel_bins: 80 for Whisper up to large-v2, 128 for large-v3).
    /// </summary>
    public int Bins { get; }
    /// <summary>Weights, row-major [Bins, FrequencyBins].</summary>
    public double[] Weights { get; }

    /// <summary>Wraps precomputed filter weights.</summary>
    /// <param name="bins">Number of mel filters.</param>
    /// <param name="weights">Row-major [bins, 201] weights; kept, not copied.</param>
    /// <exception cref="ArgumentException"><paramref name="weights"/> does not hold bins x 201 values.</exception>
    public MelFilterBank(int bins, double[] weights)
    {
        if (weights.Length != bins * FrequencyBins)
            throw new ArgumentException($"a {bins}-bin filterbank needs {bins * FrequencyBins} weights ({bins} x {FrequencyBins}), got {weights.Length}", nameof(weights));
        Bins = bins;
        Weights = weights;
    }

    /// <summary>Reads 'mel_{bins}' from Whisper's mel_filters.npz (float32 [bins, 201]).</summary>
    public static MelFilterBank FromNpz(string path, int bins)
    {
        var array = NpyFile.ReadNpz(path, $"mel_{bins}");
        if (array.Shape is not [var rows, FrequencyBins] || rows != bins)
            throw new InvalidFileFormatException(Path.GetFullPath(path),
                $"array 'mel_{bins}' has shape ({string.Join(", ", array.Shape)}), expected ({bins}, {FrequencyBins})");
        return new MelFilterBank(bins, Array.ConvertAll(array.Data, v => (double)v));
    }

    /// <summary>Computes the Slaney-scale, Slaney-normalised filterbank for 0..8000 Hz at 16 kHz.</summary>
    public static MelFilterBank Slaney(int bins, int sampleRate = Resampler.WhisperRate)
    {
        double nyquist = sampleRate / 2.0;
        double melMax = HzToMel(nyquist);
        var melPoints = new double[bins + 2];                                  // filter edges, in Hz
        for (int i = 0; i < melPoints.Length; i++) melPoints[i] = MelToHz(melMax * i / (bins + 1));
        var weights = new double[bins * FrequencyBins];
        for (int m = 0; m < bins; m++)
        {
            double lo = melPoints[m], mid = melPoints[m + 1], hi = melPoints[m + 2];
            double norm = 2.0 / (hi - lo);                                      // Slaney: constant energy per filter
            for (int k = 0; k < FrequencyBins; k++)
            {
                double f = nyquist * k / (FrequencyBins - 1);
                double rise = (f - lo) / (mid - lo), fall = (hi - f) / (hi - mid);
                weights[m * FrequencyBins + k] = Math.Max(0, Math.Min(rise, fall)) * norm;
            }
        }
        return new MelFilterBank(bins, weights);
    }

    // Slaney mel scale: linear (3 mel per 200 Hz) below 1 kHz, logarithmic (27 mel per factor 6.4) above.
    private const double FSp = 200.0 / 3, MinLogHz = 1000, MinLogMel = MinLogHz / FSp;
    private static readonly double LogStep = Math.Log(6.4) / 27;

    /// <summary>
    /// Frequency in Hz to the Slaney mel scale (librosa's <c>hz_to_mel(htk=False)</c>): linear below 1 kHz, logarithmic
    /// above.
    /// </summary>
    public static double HzToMel(double hz) => hz < MinLogHz ? hz / FSp : MinLogMel + Math.Log(hz / MinLogHz) / LogStep;
    /// <summary>
    /// Slaney mel back to Hz: the inverse of <see cref="HzToMel"/> (librosa's <c>mel_to_hz(htk=False)</c>).
    /// </summary>
    public static double MelToHz(double mel) => mel < MinLogMel ? mel * FSp : MinLogHz * Math.Exp(LogStep * (mel - MinLogMel));
}
