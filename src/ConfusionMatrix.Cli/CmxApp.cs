using System.CommandLine;
using System.Globalization;

namespace ConfusionMatrix.Cli;

/// <summary>Exit codes of every command: one line in any CI system.</summary>
public static class ExitCodes
{
    public const int Ok = 0;

    /// <summary>A class got worse (compare), the gate failed (gate), or records could not be sent (backfill).</summary>
    public const int Failed = 1;

    /// <summary>Bad input: a usage error, an unreadable file, an unknown model, an unreachable service.</summary>
    public const int BadInput = 2;

    /// <summary>The gate had not enough evidence to decide before the wait ran out.</summary>
    public const int Inconclusive = 3;
}

/// <summary>A user-facing failure: the message is printed as is and the command exits with <see cref="ExitCode"/>.</summary>
public sealed class CmxException(string message, int exitCode = ExitCodes.BadInput, Exception? inner = null) : Exception(message, inner)
{
    public int ExitCode { get; } = exitCode;
}

/// <summary>The <c>cmx</c> command line.</summary>
public static class CmxApp
{
    public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error, CancellationToken cancellationToken = default)
    {
        CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
        var console = new CmxConsole(output, error);
        var root = new RootCommand("cmx: confusion matrices of classification models, offline and live (ConfusionMatrix.Actors).")
        {
            EvaluateCommand.Create(console),
            CompareCommand.Create(console),
            GateCommand.Create(console),
            BackfillCommand.Create(console),
            BaselineCommand.Create(console),
        };
        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            foreach (var e in parsed.Errors)
            {
                error.WriteLine($"cmx: {e.Message}");
            }

            error.WriteLine("cmx: see 'cmx --help'");
            return ExitCodes.BadInput;
        }

        try
        {
            return await parsed.InvokeAsync(new InvocationConfiguration { Output = output, Error = error, EnableDefaultExceptionHandler = false }, cancellationToken);
        }
        catch (CmxException ex)
        {
            error.WriteLine($"cmx: {ex.Message}");
            return ex.ExitCode;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            error.WriteLine("cmx: cancelled");
            return ExitCodes.Failed;
        }
    }

    /// <summary>"a,b, c" → ["a","b","c"]; null or empty → null.</summary>
    internal static string[]? SplitList(string? text) =>
        string.IsNullOrWhiteSpace(text) ? null : [.. text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)];

    /// <summary>"30m", "90s", "2h", "1500ms" or a TimeSpan ("00:30:00").</summary>
    internal static TimeSpan ParseDuration(string text, string option)
    {
        text = text.Trim();
        (string unit, double scale)[] units = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)];
        foreach (var (unit, scale) in units)
        {
            if (text.EndsWith(unit, StringComparison.OrdinalIgnoreCase)
                && double.TryParse(text[..^unit.Length], NumberStyles.Float, CultureInfo.InvariantCulture, out var n)
                && n >= 0
                && !(unit == "s" && text.EndsWith("ms", StringComparison.OrdinalIgnoreCase)))
            {
                return TimeSpan.FromSeconds(n * scale);
            }
        }

        return TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out var span) && span >= TimeSpan.Zero
            ? span
            : throw new CmxException($"{option} '{text}' is not a duration like 30m, 90s, 2h or 00:30:00");
    }

    internal static Uri ParseUrl(string? text, string option)
    {
        if (text is null || !Uri.TryCreate(text, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
        {
            throw new CmxException($"{option} must be an absolute http(s) URL (got '{text}')");
        }

        return uri;
    }

    /// <summary>The environment variable whose value is sent to the silo as <c>X-API-Key</c>.</summary>
    internal const string ApiKeyVariable = "CMX_API_KEY";

    /// <summary>
    /// The silo's base address with a trailing slash, so relative API paths resolve under it; with the API key from
    /// <see cref="ApiKeyVariable"/> when set (an environment variable, so it stays out of shell history and CI logs).
    /// </summary>
    internal static HttpClient SiloHttp(Uri url, TimeSpan? timeout = null)
    {
        var text = url.ToString();
        var http = new HttpClient { BaseAddress = new Uri(text.EndsWith('/') ? text : text + "/"), Timeout = timeout ?? TimeSpan.FromSeconds(30) };
        AddApiKey(http);
        return http;
    }

    internal static void AddApiKey(HttpClient http)
    {
        if (Environment.GetEnvironmentVariable(ApiKeyVariable) is { Length: > 0 } key)
        {
            http.DefaultRequestHeaders.Add("X-API-Key", key);
        }
    }
}

/// <summary>The writers a command prints to (the process's console, or a test's).</summary>
public sealed class CmxConsole(TextWriter output, TextWriter error)
{
    public TextWriter Out { get; } = output;

    public TextWriter Error { get; } = error;
}
