using ConfusionMatrix.Abstractions;
using Microsoft.AspNetCore.Diagnostics;

namespace ConfusionMatrix.Silo.Hosting;

/// <summary>
/// The one place where exceptions become HTTP problem details (RFC 7807), for every endpoint: a refused argument is
/// 400, an operation the current state does not allow is 409 (grains throw <see cref="ConflictException"/> for it, and
/// Orleans carries the type back to the caller), something that does not exist is 404. Any other
/// <see cref="InvalidOperationException"/> is a server fault, not the caller's: it stays a 500. A grain call that could
/// not reach its silo (the silo died and is not yet declared dead, or the cluster is shutting down) is the cluster being
/// briefly unavailable, not a server bug: 503 with Retry-After. Anything else stays a 500 from the framework.
/// </summary>
public sealed partial class ApiExceptionHandler(IProblemDetailsService problems, ILogger<ApiExceptionHandler> logger) : IExceptionHandler
{
    public static bool IsTransient(Exception exception) =>
        exception is SiloUnavailableException or OrleansMessageRejectionException or TimeoutException;

    /// <summary>The status and title an exception is answered with, or null when it is a server error (500).</summary>
    public static (int Status, string Title)? Classify(Exception exception) => exception switch
    {
        _ when IsTransient(exception) => (StatusCodes.Status503ServiceUnavailable, "Cluster briefly unavailable"),
        KeyNotFoundException => (StatusCodes.Status404NotFound, "Not found"),
        ArgumentException or FormatException => (StatusCodes.Status400BadRequest, "Invalid request"),
        ConflictException => (StatusCodes.Status409Conflict, "Not allowed in the current state"),
        _ => null,
    };

    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        if (Classify(exception) is not { } answer)
        {
            return false;
        }

        var detail = exception.Message;
        if (answer.Status == StatusCodes.Status503ServiceUnavailable)
        {
            ClusterUnavailable(logger, httpContext.Request.Method, httpContext.Request.Path, exception.GetType().Name, exception.Message);
            httpContext.Response.Headers.RetryAfter = "1";
            detail = "A silo this request needed is unreachable (it may have just stopped); send the request again.";
        }
        else
        {
            Refused(logger, httpContext.Request.Method, httpContext.Request.Path, answer.Status, exception.Message);
        }

        httpContext.Response.StatusCode = answer.Status;
        return await problems.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = httpContext,
            Exception = exception,
            ProblemDetails =
            {
                Status = answer.Status,
                Title = answer.Title,
                Detail = detail,
            },
        });
    }

    [LoggerMessage(EventId = 2501, Level = LogLevel.Warning, Message = "{Method} {Path} answered 503: a grain call could not reach its silo ({Exception}: {Problem})")]
    private static partial void ClusterUnavailable(ILogger logger, string method, string path, string exception, string problem);

    [LoggerMessage(EventId = 2502, Level = LogLevel.Information, Message = "{Method} {Path} answered {Status}: {Problem}")]
    private static partial void Refused(ILogger logger, string method, string path, int status, string problem);
}
