using System.Globalization;

namespace ConfusionMatrix.Core;

/// <summary>
/// Parses the textual window names used by the API ("all", "5m", "24h", "7d"). Only whole minutes up to an hour,
/// whole hours up to a day and whole days up to 31 are accepted, because those are exactly the windows the bucket
/// rings can answer. Day windows are UTC days: the current partial day and the N-1 days before it.
/// </summary>
public static class WindowSpec
{
    public const string AllowedForms = "'all', '<1-60>m' (minutes), '<1-24>h' (hours) or '<1-31>d' (days), e.g. 5m, 15m, 1h, 6h, 24h, 7d, 30d";

    /// <summary>"all" yields a null window (all time); otherwise a positive window.</summary>
    public static bool TryParse(string? text, out TimeSpan? window, out string? error)
    {
        window = null;
        error = null;
        var trimmed = text?.Trim() ?? string.Empty;
        if (trimmed.Equals("all", StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }

        if (trimmed.Length >= 2)
        {
            var unit = char.ToLowerInvariant(trimmed[^1]);
            var digits = trimmed.AsSpan(0, trimmed.Length - 1);
            var allDigits = true;
            foreach (var ch in digits)
            {
                allDigits &= ch is >= '0' and <= '9';
            }

            if (allDigits && int.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out var amount))
            {
                if (unit == 'm' && amount is >= 1 and <= 60)
                {
                    window = TimeSpan.FromMinutes(amount);
                    return true;
                }

                if (unit == 'h' && amount is >= 1 and <= 24)
                {
                    window = TimeSpan.FromHours(amount);
                    return true;
                }

                if (unit == 'd' && amount is >= 1 and <= 31)
                {
                    window = TimeSpan.FromDays(amount);
                    return true;
                }
            }
        }

        error = $"Invalid window '{text}'. Allowed: {AllowedForms}.";
        return false;
    }

    /// <summary>Canonical text for a window (null = "all"); whole hours print as hours.</summary>
    public static string Format(TimeSpan? window)
    {
        if (window is not { } value)
        {
            return "all";
        }

        if (value > TimeSpan.FromHours(24) && value.Ticks % TimeSpan.TicksPerDay == 0)
        {
            return string.Create(CultureInfo.InvariantCulture, $"{(long)value.TotalDays}d");
        }

        return value.Ticks % TimeSpan.TicksPerHour == 0
            ? string.Create(CultureInfo.InvariantCulture, $"{(long)value.TotalHours}h")
            : string.Create(CultureInfo.InvariantCulture, $"{(long)value.TotalMinutes}m");
    }
}
