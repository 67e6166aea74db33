using ConfusionMatrix.Demo;
using ConfusionMatrix.Silo.Hosting;

// The silo exactly as src/ConfusionMatrix.Silo runs it, with a story feeding it: --demo (the default) streams the fraud
// canary, --demo-late-labels the late-label story; both switches together run both. Every other argument is the silo's.
string[] switches = ["--demo", "--demo-late-labels"];
var lateLabels = args.Contains("--demo-late-labels");
var fraud = args.Contains("--demo") || !lateLabels;
var builder = WebApplication.CreateBuilder(new WebApplicationOptions
{
    Args = [.. args.Where(a => !switches.Contains(a))],

    // The silo's appsettings.json is copied next to this program: read it whatever directory `dotnet run` starts in.
    ContentRootPath = AppContext.BaseDirectory,
});
var problem = ConfusionMatrixHost.TryReadOptions(builder.Configuration, out var options);
if (problem is not null)
{
    Console.Error.WriteLine($"Configuration error: {problem}");
    return 2;
}

if (fraud)
{
    builder.Services.AddHostedService<FraudDemo>();
}

if (lateLabels)
{
    builder.Services.AddHostedService<LateLabelDemo>();
}

var app = ConfusionMatrixHost.Build(builder, options);
await app.RunAsync();
return 0;
