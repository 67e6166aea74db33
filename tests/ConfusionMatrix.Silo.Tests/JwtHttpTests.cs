using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace ConfusionMatrix.Silo.Tests;

/// <summary>
/// Bearer tokens from an OIDC issuer: the test serves the discovery document and the signing keys over plain http
/// (RequireHttpsMetadata=false) and signs tokens itself; a real silo process validates them (mode ApiKeyAndJwt).
/// </summary>
public sealed class JwtHttpTests
{
    private const string Audience = "confusionmatrix";

    [Fact]
    public async Task TokensFromTheIssuer_CarryNameAndRoles_AndAnythingElseIsRefused()
    {
        var ports = SiloProcess.FreePorts(4);
        var authority = $"http://127.0.0.1:{ports[3]}/realms/ml";
        using var rsa = RSA.Create(2048);
        var key = new RsaSecurityKey(rsa) { KeyId = "k1" };
        using var issuer = ServeIssuer(ports[3], authority, rsa.ExportParameters(false));

        using var silo = SiloProcess.Start(
            [
                "--urls", $"http://127.0.0.1:{ports[0]}",
                $"--ConfusionMatrix:Clustering:SiloPort={ports[1]}",
                $"--ConfusionMatrix:Clustering:GatewayPort={ports[2]}",
                "--ConfusionMatrix:Auth:Mode=ApiKeyAndJwt",
                "--ConfusionMatrix:Auth:ApiKeys:ci:Key=ci-key-for-jwt-tests-01234",
                "--ConfusionMatrix:Auth:ApiKeys:ci:Roles:0=viewer",
                $"--ConfusionMatrix:Auth:Jwt:Authority={authority}",
                $"--ConfusionMatrix:Auth:Jwt:Audience={Audience}",
                "--ConfusionMatrix:Auth:Jwt:RequireHttpsMetadata=false",
                "--ConfusionMatrix:Auth:Jwt:NameClaim=preferred_username",
                "--Logging:LogLevel:Default=Warning",
            ]);
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{ports[0]}/"), Timeout = TimeSpan.FromSeconds(30) };
        var clock = Stopwatch.StartNew();
        while (true)
        {
            Assert.False(silo.HasExited, silo.OutputTail());
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), $"not healthy in 60 s\n{silo.OutputTail()}");
            try
            {
                if ((await http.GetAsync("health")).IsSuccessStatusCode)
                {
                    break;
                }
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }

            await Task.Delay(250);
        }

        var operatorToken = Token(key, authority, Audience, "alice", ["operator"]);
        var me = await SendAsync(http, HttpMethod.Get, "api/v1/me", bearer: operatorToken);
        Expect.Equal(HttpStatusCode.OK, me.Status, me.Body + silo.OutputTail());
        using (var doc = JsonDocument.Parse(me.Body))
        {
            Assert.Equal("alice", doc.RootElement.GetProperty("name").GetString());
            Assert.Equal(["operator"], doc.RootElement.GetProperty("roles").EnumerateArray().Select(r => r.GetString()));
        }

        // Roles from the token decide, as for keys; the API key still works beside tokens.
        var viewerToken = Token(key, authority, Audience, "bob", ["viewer"]);
        Assert.Equal(HttpStatusCode.Forbidden, (await SendAsync(http, HttpMethod.Post, "api/v1/models/jwt/rollout/pause", bearer: viewerToken)).Status);
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(http, HttpMethod.Get, "api/v1/models/jwt/rollout", bearer: viewerToken)).Status);
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(http, HttpMethod.Get, "api/v1/models/jwt/rollout", apiKey: "ci-key-for-jwt-tests-01234")).Status);

        // Another signer, another audience, an expired token: 401.
        using var other = RSA.Create(2048);
        var forged = Token(new RsaSecurityKey(other) { KeyId = "k1" }, authority, Audience, "mallory", ["admin"]);
        Assert.Equal(HttpStatusCode.Unauthorized, (await SendAsync(http, HttpMethod.Get, "api/v1/me", bearer: forged)).Status);
        Assert.Equal(HttpStatusCode.Unauthorized, (await SendAsync(http, HttpMethod.Get, "api/v1/me", bearer: Token(key, authority, "another-api", "alice", ["admin"]))).Status);
        Assert.Equal(HttpStatusCode.Unauthorized, (await SendAsync(http, HttpMethod.Get, "api/v1/me", bearer: Token(key, authority, Audience, "alice", ["admin"], expired: true))).Status);
        var none = await SendAsync(http, HttpMethod.Get, "api/v1/me");
        Assert.Equal(HttpStatusCode.Unauthorized, none.Status);
        Assert.Contains("Bearer", none.WwwAuthenticate, StringComparison.Ordinal);
        Assert.Contains("X-API-Key", none.WwwAuthenticate, StringComparison.Ordinal);
    }

    private static string Token(SecurityKey key, string issuer, string audience, string name, string[] roles, bool expired = false)
    {
        var now = DateTime.UtcNow;
        return new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = issuer,
            Audience = audience,
            IssuedAt = expired ? now.AddHours(-2) : now,
            NotBefore = expired ? now.AddHours(-2) : now.AddMinutes(-1),
            Expires = expired ? now.AddHours(-1) : now.AddMinutes(10),
            Claims = new Dictionary<string, object> { ["sub"] = Guid.NewGuid().ToString(), ["preferred_username"] = name, ["roles"] = roles },
            SigningCredentials = new SigningCredentials(key, SecurityAlgorithms.RsaSha256),
        });
    }

    /// <summary>The issuer's discovery document and JWKS, as any OIDC provider serves them.</summary>
    private static HttpListener ServeIssuer(int port, string authority, RSAParameters publicKey)
    {
        var listener = new HttpListener();
        listener.Prefixes.Add($"http://127.0.0.1:{port}/");
        listener.Start();
        var discovery = JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["issuer"] = authority,
            ["jwks_uri"] = $"{authority}/protocol/openid-connect/certs",
            ["id_token_signing_alg_values_supported"] = new[] { "RS256" },
        });
        var jwks = JsonSerializer.Serialize(new
        {
            keys = new[] { new { kty = "RSA", kid = "k1", use = "sig", alg = "RS256", n = Base64UrlEncoder.Encode(publicKey.Modulus), e = Base64UrlEncoder.Encode(publicKey.Exponent) } },
        });
        _ = Task.Run(async () =>
        {
            while (listener.IsListening)
            {
                try
                {
                    var context = await listener.GetContextAsync();
                    var path = context.Request.Url!.AbsolutePath;
                    var body = path.EndsWith("/.well-known/openid-configuration", StringComparison.Ordinal) ? discovery : path.EndsWith("/certs", StringComparison.Ordinal) ? jwks : null;
                    context.Response.StatusCode = body is null ? 404 : 200;
                    context.Response.ContentType = "application/json";
                    if (body is not null)
                    {
                        await context.Response.OutputStream.WriteAsync(Encoding.UTF8.GetBytes(body));
                    }

                    context.Response.Close();
                }
                catch (Exception) when (!listener.IsListening)
                {
                    return;
                }
            }
        });
        return listener;
    }

    private sealed record Answer(HttpStatusCode Status, string Body, string WwwAuthenticate);

    private static async Task<Answer> SendAsync(HttpClient http, HttpMethod method, string path, string? bearer = null, string? apiKey = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (method != HttpMethod.Get)
        {
            request.Content = new StringContent("{}", Encoding.UTF8, "application/json");
        }

        if (bearer is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        }

        if (apiKey is not null)
        {
            request.Headers.Add("X-API-Key", apiKey);
        }

        using var response = await http.SendAsync(request);
        Assert.True((int)response.StatusCode < 500, $"{method} {path}: {(int)response.StatusCode}");
        return new Answer(response.StatusCode, await response.Content.ReadAsStringAsync(), response.Headers.WwwAuthenticate.ToString());
    }
}
