using ConfusionMatrix.Abstractions;
using ConfusionMatrix.Silo.Hosting;

namespace ConfusionMatrix.Silo.Tests;

/// <summary>
/// Which exceptions become which HTTP answers: only a refusal the grain states as a conflict is the caller's 409; an
/// <see cref="InvalidOperationException"/> from anywhere else is a server fault and stays a 500.
/// </summary>
public sealed class ApiExceptionHandlerTests
{
    [Fact]
    public void AConflict_Is409_AnyOtherInvalidOperation_IsAServerError()
    {
        Assert.Equal(409, ApiExceptionHandler.Classify(new ConflictException("cannot pause: phase is Empty"))?.Status);
        Assert.Equal(409, ApiExceptionHandler.Classify(new ConflictException())?.Status);
        Assert.Null(ApiExceptionHandler.Classify(new InvalidOperationException("Collection was modified")));
        Assert.Null(ApiExceptionHandler.Classify(new ObjectDisposedException("reader")));
        Assert.Null(ApiExceptionHandler.Classify(new NullReferenceException()));
    }

    [Fact]
    public void TheOtherAnswers_AreUnchanged()
    {
        Assert.Equal(400, ApiExceptionHandler.Classify(new ArgumentException("weight"))?.Status);
        Assert.Equal(400, ApiExceptionHandler.Classify(new ArgumentOutOfRangeException("weight"))?.Status);
        Assert.Equal(400, ApiExceptionHandler.Classify(new FormatException())?.Status);
        Assert.Equal(404, ApiExceptionHandler.Classify(new KeyNotFoundException())?.Status);
        Assert.Equal(503, ApiExceptionHandler.Classify(new Orleans.Runtime.SiloUnavailableException())?.Status);
        Assert.Equal(503, ApiExceptionHandler.Classify(new TimeoutException())?.Status);
    }
}
