namespace ConfusionMatrix.Silo.Security;

/// <summary>
/// The roles and the authorization policies of the same names. <c>admin</c> implies every role, <c>operator</c>
/// implies <c>viewer</c>; <c>ingest</c> only writes predictions and labels.
/// </summary>
public static class Roles
{
    public const string Viewer = "viewer";

    public const string Ingest = "ingest";

    public const string Operator = "operator";

    public const string Admin = "admin";

    public static readonly string[] All = [Viewer, Ingest, Operator, Admin];

    /// <summary>The roles a policy accepts: the role itself and every role that implies it.</summary>
    public static string[] Satisfying(string role) => role switch
    {
        Viewer => [Viewer, Operator, Admin],
        Ingest => [Ingest, Admin],
        Operator => [Operator, Admin],
        Admin => [Admin],
        _ => throw new ArgumentOutOfRangeException(nameof(role), role, "not a role"),
    };

    public static bool IsRole(string role) => All.Contains(role, StringComparer.Ordinal);
}
