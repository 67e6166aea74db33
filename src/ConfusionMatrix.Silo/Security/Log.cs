namespace ConfusionMatrix.Silo.Security;

internal static partial class Log
{
    [LoggerMessage(EventId = 1401, Level = LogLevel.Information, Message = "Refused {Status} ({Reason}): {Method} {Path}")]
    public static partial void Refused(ILogger logger, int status, string reason, string method, string path);

    [LoggerMessage(EventId = 1402, Level = LogLevel.Warning, Message = "Authentication mode {Mode} with no API keys configured: every request but /health is refused")]
    public static partial void NoApiKeys(ILogger logger, string mode);
}
