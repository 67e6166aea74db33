using System.ComponentModel.DataAnnotations;

namespace ConfusionMatrix.Grains;

/// <summary>
/// A <see cref="RangeAttribute"/> whose <c>ErrorMessage</c> is honoured by the generated options validators: they
/// replace the framework's own range attribute with a copy that always prints its default message, which names the
/// property path instead of the configuration key operators set.
/// </summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Field | AttributeTargets.Parameter, AllowMultiple = false)]
public sealed class SettingRangeAttribute : RangeAttribute
{
    public SettingRangeAttribute(int minimum, int maximum)
        : base(minimum, maximum)
    {
    }

    public SettingRangeAttribute(double minimum, double maximum)
        : base(minimum, maximum)
    {
    }

    public SettingRangeAttribute(Type type, string minimum, string maximum)
        : base(type, minimum, maximum)
    {
    }
}
