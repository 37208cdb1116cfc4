using TorchSharp;

namespace PeftSharp.Audio;

/// <summary>
/// Whisper's log-mel front end, numerically as transformers' WhisperFeatureExtractor: 16 kHz audio is zero-padded
/// or trimmed to 30 s (480,000 samples); STFT with a 400-point periodic Hann window, hop 160, centred with reflect
/// padding of 200 samples each side (3,001 frames, the last dropped: 3,000); power spectrum |X|^2; mel filterbank;
/// log10(max(mel, 1e-10)); clamped below at (max - 8); then (x + 4) / 4. Computed in double precision in plain C#
/// (a direct DFT, frames in parallel), returned as fp32.
/// </summary>
public static class LogMelSpectrogram
{
    /// <summary>
    /// Whisper's fixed front-end sizes, as WhisperFeatureExtractor's defaults: FFT length 400 samples (25 ms), hop 160
    /// samples (10 ms), a 30 s chunk of 480,000 samples, and so 3,000 feature frames per chunk.
    /// </summary>
    public const int NFft = 400, HopLength = 160, ChunkSamples = 30 * Resampler.WhisperRate, Frames = ChunkSamples / HopLength;

    private static readonly Lazy<(double[] Cos, double[] Sin)> DftTable = new(() =>
    {
        int bins = NFft / 2 + 1;
        var cos = new double[bins * NFft];
        var sin = new double[bins * NFft];
        for (int k = 0; k < bins; k++)
            for (int n = 0; n < NFft; n++)
            {
                double a = 2 * Math.PI * ((long)k * n % NFft) / NFft;
                cos[k * NFft + n] = Math.Cos(a) * Window(n);
                sin[k * NFft + n] = Math.Sin(a) * Window(n);
            }
        return (cos, sin);
    });

    private static double Window(int n) => 0.5 - 0.5 * Math.Cos(2 * Math.PI * n / NFft); // periodic Hann

    /// <summary>Features [filters.Bins, 3000] as an fp32 tensor for 16 kHz mono <paramref name="samples"/>.</summary>
    public static torch.Tensor Compute(float[] samples, MelFilterBank filters) =>
        torch.tensor(ComputeArray(samples, filters), [filters.Bins, Frames], torch.float32);

    /// <summary>Features row-major [filters.Bins, 3000] for 16 kHz mono <paramref name="samples"/>.</summary>
    public static float[] ComputeArray(float[] samples, MelFilterBank filters)
    {
        const int pad = NFft / 2, freqBins = NFft / 2 + 1;
        var padded = new double[ChunkSamples + 2 * pad];
        int n = Math.Min(samples.Length, ChunkSamples);
        for (int i = 0; i < n; i++) padded[pad + i] = samples[i];
        for (int i = 0; i < pad; i++)                                         // reflect (edge sample not repeated)
        {
            padded[pad - 1 - i] = padded[pad + 1 + i];
            padded[pad + ChunkSamples + i] = padded[pad + ChunkSamples - 2 - i];
        }

        var (cos, sin) = DftTable.Value;
        int bins = filters.Bins;
        var w = filters.Weights;
        var mel = new double[bins * Frames];
        Parallel.For(0, Frames, () => new double[freqBins], (t, _, power) =>
        {
            int start = t * HopLength;
            for (int k = 0; k < freqBins; k++)
            {
                double re = 0, im = 0;
                int row = k * NFft;
                for (int j = 0; j < NFft; j++)
                {
                    double x = padded[start + j];
                    re += x * cos[row + j];
                    im -= x * sin[row + j];
                }
                power[k] = re * re + im * im;
            }
            for (int m = 0; m < bins; m++)
            {
                double s = 0;
                for (int k = 0; k < freqBins; k++) s += w[m * freqBins + k] * power[k];
                mel[m * Frames + t] = Math.Log10(Math.Max(s, 1e-10));
            }
            return power;
        }, _ => { });

        double floor = mel.Max() - 8.0;
        var result = new float[mel.Length];
        for (int i = 0; i < mel.Length; i++) result[i] = (float)((Math.Max(mel[i], floor) + 4.0) / 4.0);
        return result;
    }

    /// <summary>Reads a WAV file, resamples it to 16 kHz and computes its features [filters.Bins, 3000].</summary>
    public static torch.Tensor FromWav(string path, MelFilterBank filters) =>
        Compute(Resampler.To16k(WavReader.Read(path)).Samples, filters);
}
