using ConfusionMatrix.Silo.Hosting;

// --demo runs the fraud-canary story against this silo, --demo-late-labels the late-label story; they are switches,
// not configuration keys.
var demo = args.Contains("--demo");
var lateLabelDemo = args.Contains("--demo-late-labels");
var builder = WebApplication.CreateBuilder(args.Where(a => a is not "--demo" and not "--demo-late-labels").ToArray());
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

if (lateLabelDemo)
{
    builder.Services.AddHostedService<LateLabelDemo>();
}

var app = ConfusionMatrixHost.Build(builder, options);
await app.RunAsync();
return 0;
