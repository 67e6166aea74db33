namespace ConfusionMatrix.MLflow;

/// <summary>A registered model version in MLflow, by alias (<c>mlflow:fraud@champion</c>) or number (<c>mlflow:fraud/3</c>).</summary>
public sealed record MLflowModelReference(string Model, string? Alias, string? Version)
{
    public const string Scheme = "mlflow:";

    /// <summary>Parses <c>mlflow:MODEL@ALIAS</c> or <c>mlflow:MODEL/VERSION</c>; false with a reason otherwise.</summary>
    public static bool TryParse(string? text, out MLflowModelReference? reference, out string? error)
    {
        reference = null;
        error = null;
        if (text is null || !text.StartsWith(Scheme, StringComparison.OrdinalIgnoreCase))
        {
            error = $"an MLflow reference looks like mlflow:MODEL@ALIAS or mlflow:MODEL/VERSION (got '{text}')";
            return false;
        }

        var body = text[Scheme.Length..];
        var at = body.LastIndexOf('@');
        var slash = body.LastIndexOf('/');
        if (at > 0 && at < body.Length - 1)
        {
            reference = new MLflowModelReference(body[..at], body[(at + 1)..], null);
        }
        else if (slash > 0 && slash < body.Length - 1)
        {
            reference = new MLflowModelReference(body[..slash], null, body[(slash + 1)..]);
        }

        error = reference is null ? $"'{text}' names no alias (@ALIAS) or version (/VERSION)" : reference.Validate();
        if (error is not null)
        {
            reference = null;
            return false;
        }

        return true;
    }

    /// <summary>Null when exactly one of alias and version is set and the model name is not blank; else the reason.</summary>
    public string? Validate()
    {
        if (string.IsNullOrWhiteSpace(Model))
        {
            return "the MLflow registered model name is empty";
        }

        if (string.IsNullOrWhiteSpace(Alias) == string.IsNullOrWhiteSpace(Version))
        {
            return "give exactly one of an MLflow alias and a model version";
        }

        return Version is { } v && !long.TryParse(v, out _) ? $"MLflow model version '{v}' is not a number" : null;
    }

    public override string ToString() => Alias is not null ? $"{Scheme}{Model}@{Alias}" : $"{Scheme}{Model}/{Version}";
}
