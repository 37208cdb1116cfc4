namespace PeftSharp.Quantization;

/// <summary>
/// Standard normal CDF and its inverse in double precision, enough to derive the NF4 codebook exactly as
/// scipy's norm.ppf does (to ~1e-15). The inverse is Acklam's rational approximation (relative error 1.15e-9)
/// refined by two Halley steps against an accurate CDF.
/// </summary>
public static class NormalDistribution
{
    // Acklam's coefficients (central region and tails).
    static readonly double[] A = [-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02, 1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00];
    static readonly double[] B = [-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02, 6.680131188771972e+01, -1.328068155288572e+01];
    static readonly double[] C = [-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00, -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00];
    static readonly double[] D = [7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00];
    const double PLow = 0.02425;

    /// <summary>Inverse of the standard normal CDF (scipy.stats.norm.ppf): p in (0, 1); 0 and 1 give -inf and +inf.</summary>
    public static double InverseCdf(double p)
    {
        if (double.IsNaN(p) || p < 0 || p > 1) throw new ArgumentOutOfRangeException(nameof(p), p, "probability must be in [0, 1]");
        if (p == 0) return double.NegativeInfinity;
        if (p == 1) return double.PositiveInfinity;
        double x;
        if (p < PLow)
        {
            double q = Math.Sqrt(-2 * Math.Log(p));
            x = (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5]) / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1);
        }
        else if (p <= 1 - PLow)
        {
            double q = p - 0.5, r = q * q;
            x = (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1);
        }
        else
        {
            double q = Math.Sqrt(-2 * Math.Log(1 - p));
            x = -(((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5]) / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1);
        }
        // Halley refinement; in the upper tail work with the complement so 1 - p does not cancel.
        for (int i = 0; i < 2; i++)
        {
            double e = p > 0.5 ? -(UpperTail(x) - (1 - p)) : Cdf(x) - p;
            double u = e * Math.Sqrt(2 * Math.PI) * Math.Exp(x * x / 2);
            x -= u / (1 + x * u / 2);
        }
        return x;
    }

    /// <summary>P(Z &lt;= x).</summary>
    public static double Cdf(double x) => 0.5 * Erfc(-x / Math.Sqrt(2));

    static double UpperTail(double x) => 0.5 * Erfc(x / Math.Sqrt(2));

    /// <summary>Complementary error function: Taylor series of erf near 0, Lentz continued fraction beyond 2.</summary>
    public static double Erfc(double x)
    {
        if (double.IsNaN(x)) return double.NaN;
        if (Math.Abs(x) < 2) return 1 - ErfSeries(x);
        if (x < 0) return 2 - Erfc(-x);
        // erfc(x) = exp(-x^2)/sqrt(pi) * 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + ...)))), evaluated by modified Lentz.
        const double tiny = 1e-300;
        double f = x, c = x, d = 0;
        for (int n = 1; n < 500; n++)
        {
            double an = n / 2.0;
            d = x + an * d;
            d = Math.Abs(d) < tiny ? 1 / tiny : 1 / d;
            c = x + an / c;
            if (Math.Abs(c) < tiny) c = tiny;
            double delta = c * d;
            f *= delta;
            if (Math.Abs(delta - 1) < 1e-16) break;
        }
        return Math.Exp(-x * x) / Math.Sqrt(Math.PI) / f;
    }

    static double ErfSeries(double x)
    {
        // erf(x) = 2/sqrt(pi) * sum_n (-1)^n x^(2n+1) / (n! (2n+1))
        double x2 = x * x, term = x, sum = x;
        for (int n = 1; n < 200; n++)
        {
            term *= -x2 / n;
            double add = term / (2 * n + 1);
            sum += add;
            if (Math.Abs(add) < 1e-17 * Math.Abs(sum)) break;
        }
        return 2 / Math.Sqrt(Math.PI) * sum;
    }
}
