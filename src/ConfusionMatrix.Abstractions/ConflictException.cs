namespace ConfusionMatrix.Abstractions;

/// <summary>
/// A grain refuses an operation that its current state does not allow (a rollout transition the phase forbids, a model
/// registered again with other classes). The HTTP API answers it with 409; any other
/// <see cref="InvalidOperationException"/> is a fault of the server and answered with 500. Serialised by Orleans, so
/// callers in other silos and clients receive this type.
/// </summary>
[GenerateSerializer, Alias("cm.ConflictException")]
public sealed class ConflictException : InvalidOperationException
{
    public ConflictException()
    {
    }

    public ConflictException(string message)
        : base(message)
    {
    }

    public ConflictException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
