namespace ConfusionMatrix.Core;

/// <summary>
/// Gamma-family functions needed for p-values. Upper tails are computed directly (never as 1 - P) because
/// drift p-values routinely go below 1e-200 and would otherwise round to 0.
/// </summary>
public static class SpecialFunctions
{
    private const double LanczosG = 607.0 / 128.0;
    private const double HalfLogTwoPi = 0.91893853320467274178032973640562;
    private const double Epsilon = 1e-16;
    private const double Tiny = 1e-300;

    // Godfrey's Lanczos coefficients (g = 607/128, n = 15): ~1e-15 relative accuracy for x >= 0.5.
    private static readonly double[] LanczosCoefficients =
    [
        0.99999999999999709182,
        57.156235665862923517,
        -59.597960355475491248,
        14.136097974741747174,
        -0.49191381609762019978,
        .33994649984811888699e-4,
        .46523628927048575665e-4,
        -.98374475304879564677e-4,
        .15808870322491248884e-3,
        -.21026444172410488319e-3,
        .21743961811521264320e-3,
        -.16431810653676389022e-3,
        .84418223983852743293e-4,
        -.26190838401581408670e-4,
        .36899182659531622704e-5,
    ];

    /// <summary>ln|Γ(x)|; +∞ at non-positive integers.</summary>
    public static double LogGamma(double x)
    {
        if (double.IsNaN(x))
        {
            return double.NaN;
        }

        if (double.IsInfinity(x))
        {
            return double.PositiveInfinity;
        }

        if (x <= 0 && Math.Floor(x) == x)
        {
            return double.PositiveInfinity;
        }

        if (x < 0.5)
        {
            // Reflection: Γ(x)Γ(1-x) = π / sin(πx).
            return Math.Log(Math.PI / Math.Abs(Math.Sin(Math.PI * x))) - LogGamma(1 - x);
        }

        var z = x - 1;
        var sum = LanczosCoefficients[0];
        for (var i = 1; i < LanczosCoefficients.Length; i++)
        {
            sum += LanczosCoefficients[i] / (z + i);
        }

        var t = z + LanczosG + 0.5;
        return HalfLogTwoPi + ((z + 0.5) * Math.Log(t)) - t + Math.Log(sum);
    }

    /// <summary>Lower regularized incomplete gamma P(a, x) = γ(a, x) / Γ(a).</summary>
    public static double RegularizedGammaP(double a, double x)
    {
        ValidateGammaArguments(a, x);
        if (double.IsNaN(a) || double.IsNaN(x))
        {
            return double.NaN;
        }

        if (x == 0)
        {
            return 0;
        }

        if (double.IsPositiveInfinity(x))
        {
            return 1;
        }

        return x < a + 1 ? LowerSeries(a, x) : 1 - UpperContinuedFraction(a, x);
    }

    /// <summary>Upper regularized incomplete gamma Q(a, x) = Γ(a, x) / Γ(a), accurate deep into the tail.</summary>
    public static double RegularizedGammaQ(double a, double x)
    {
        ValidateGammaArguments(a, x);
        if (double.IsNaN(a) || double.IsNaN(x))
        {
            return double.NaN;
        }

        if (x == 0)
        {
            return 1;
        }

        if (double.IsPositiveInfinity(x))
        {
            return 0;
        }

        // Where x < a + 1, Q is not small, so the complement of the series loses nothing.
        return x < a + 1 ? 1 - LowerSeries(a, x) : UpperContinuedFraction(a, x);
    }

    /// <summary>Upper tail of the standard normal, P(Z &gt; z), via erfc(t) = Q(1/2, t²) to stay accurate for large z.</summary>
    public static double NormalSurvival(double z)
    {
        if (double.IsNaN(z))
        {
            return double.NaN;
        }

        var t = z / Math.Sqrt(2);
        var erfcAbs = RegularizedGammaQ(0.5, t * t);
        return z >= 0 ? 0.5 * erfcAbs : 1 - (0.5 * erfcAbs);
    }

    private static void ValidateGammaArguments(double a, double x)
    {
        if (a <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(a), a, "Shape must be positive.");
        }

        if (x < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(x), x, "Argument must be non-negative.");
        }
    }

    /// <summary>e^{-x} x^a / Γ(a), computed in log space to avoid overflow.</summary>
    private static double LogPrefactor(double a, double x) => (a * Math.Log(x)) - x - LogGamma(a);

    private static double LowerSeries(double a, double x)
    {
        var term = 1 / a;
        var sum = term;
        var denominator = a;
        var maxIterations = 1000 + (int)Math.Min(1e7, 20 * Math.Sqrt(a) + 10 * x);
        for (var n = 0; n < maxIterations; n++)
        {
            denominator += 1;
            term *= x / denominator;
            sum += term;
            if (Math.Abs(term) < Math.Abs(sum) * Epsilon)
            {
                break;
            }
        }

        return Math.Min(1, sum * Math.Exp(LogPrefactor(a, x)));
    }

    /// <summary>Modified Lentz evaluation of the continued fraction for Γ(a, x), valid for x ≥ a + 1.</summary>
    private static double UpperContinuedFraction(double a, double x)
    {
        var b = x + 1 - a;
        var c = 1 / Tiny;
        var d = 1 / b;
        var h = d;
        var maxIterations = 1000 + (int)Math.Min(1e7, 20 * Math.Sqrt(a));
        for (var i = 1; i <= maxIterations; i++)
        {
            var an = -i * (i - a);
            b += 2;
            d = (an * d) + b;
            if (Math.Abs(d) < Tiny)
            {
                d = Tiny;
            }

            c = b + (an / c);
            if (Math.Abs(c) < Tiny)
            {
                c = Tiny;
            }

            d = 1 / d;
            var delta = d * c;
            h *= delta;
            if (Math.Abs(delta - 1) < Epsilon)
            {
                break;
            }
        }

        return Math.Exp(LogPrefactor(a, x)) * h;
    }
}

/// <summary>Chi-square distribution tail used to turn G statistics into p-values.</summary>
public static class ChiSquared
{
    /// <summary>P(X² ≥ x) for <paramref name="degreesOfFreedom"/> &gt; 0; 1 for x ≤ 0.</summary>
    public static double SurvivalFunction(double x, double degreesOfFreedom)
    {
        if (double.IsNaN(x) || double.IsNaN(degreesOfFreedom))
        {
            return double.NaN;
        }

        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(degreesOfFreedom);
        if (x <= 0)
        {
            return 1;
        }

        return SpecialFunctions.RegularizedGammaQ(degreesOfFreedom / 2, x / 2);
    }
}
