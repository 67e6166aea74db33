using Xunit.Sdk;

namespace ConfusionMatrix.Tests.Shared;

/// <summary>
/// Assertions shared by the test projects. <see cref="Equal{T}"/> and <see cref="NotEqual{T}"/> are
/// <c>Assert.Equal</c> and <c>Assert.NotEqual</c> that also carry the context a bare comparison would lose (captured
/// stdout/stderr, the corpus case, the response), so a failure shows expected, actual and what was going on.
/// </summary>
public static partial class Expect
{
    /// <summary>Assert.Equal with <paramref name="context"/> below expected and actual in the failure message.</summary>
    public static void Equal<T>(T expected, T actual, string context)
    {
        if (!EqualityComparer<T>.Default.Equals(expected, actual))
        {
            throw new XunitException(
                $"Assert.Equal() Failure: Values differ{Environment.NewLine}" +
                $"Expected: {ArgumentFormatter.Format(expected)}{Environment.NewLine}" +
                $"Actual:   {ArgumentFormatter.Format(actual)}{Environment.NewLine}" +
                $"Context:  {context}");
        }
    }

    /// <summary>Assert.NotEqual with <paramref name="context"/> below the two values in the failure message.</summary>
    public static void NotEqual<T>(T unexpected, T actual, string context)
    {
        if (EqualityComparer<T>.Default.Equals(unexpected, actual))
        {
            throw new XunitException(
                $"Assert.NotEqual() Failure: Values are equal{Environment.NewLine}" +
                $"Expected: Not {ArgumentFormatter.Format(unexpected)}{Environment.NewLine}" +
                $"Actual:       {ArgumentFormatter.Format(actual)}{Environment.NewLine}" +
                $"Context:  {context}");
        }
    }
}
