using ConfusionMatrix.Silo.Hosting;

// --demo runs the fraud-canary story against this silo; it is a switch, not a configuration key.
var demo = args.Contains("--demo");
var builder = WebApplication.CreateBuilder(args.Where(a => a != "--demo").ToArray());
var problem = ConfusionMatrixHost.TryReadOptions(builder.Configuration, out var options);
if (problem is not null)
{
    Console.Error.WriteLine($"Configuration error: {problem}");
    return 2;
}

if (demo)
{
    builder.Services.AddHostedService<FraudDemo>();
}

var app = ConfusionMatrixHost.Build(builder, options);
await app.RunAsync();
return 0;
