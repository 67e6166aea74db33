using Microsoft.AspNetCore.Diagnostics;

namespace ConfusionMatrix.Silo.Hosting;

/// <summary>
/// A grain call that could not reach its silo (the silo died and is not yet declared dead, or the cluster is shutting
/// down) is the cluster being briefly unavailable, not a server bug: answer 503 problem details with Retry-After
/// instead of a 500.
/// </summary>
public sealed partial class ClusterUnavailableExceptionHandler(IProblemDetailsService problems, ILogger<ClusterUnavailableExceptionHandler> logger) : IExceptionHandler
{
    public static bool IsTransient(Exception exception) =>
        exception is SiloUnavailableException or OrleansMessageRejectionException or TimeoutException;

    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        if (!IsTransient(exception))
        {
            return false;
        }

        ClusterUnavailable(logger, httpContext.Request.Method, httpContext.Request.Path, exception.GetType().Name, exception.Message);
        httpContext.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
        httpContext.Response.Headers.RetryAfter = "1";
        return await problems.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = httpContext,
            Exception = exception,
            ProblemDetails =
            {
                Status = StatusCodes.Status503ServiceUnavailable,
                Title = "Cluster briefly unavailable",
                Detail = "A silo this request needed is unreachable (it may have just stopped); send the request again.",
            },
        });
    }

    [LoggerMessage(EventId = 2501, Level = LogLevel.Warning, Message = "{Method} {Path} answered 503: a grain call could not reach its silo ({Exception}: {Problem})")]
    private static partial void ClusterUnavailable(ILogger logger, string method, string path, string exception, string problem);
}
