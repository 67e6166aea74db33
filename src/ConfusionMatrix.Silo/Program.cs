using ConfusionMatrix.Silo.Hosting;

// The demo stories live in samples/ConfusionMatrix.Demo, which hosts this same silo; say so rather than start without.
if (args.FirstOrDefault(a => a is "--demo" or "--demo-late-labels") is { } demo)
{
    Console.Error.WriteLine($"{demo} runs the demo host: dotnet run --project samples/ConfusionMatrix.Demo -c Release -- {demo}");
    return 2;
}

var builder = WebApplication.CreateBuilder(args);
var problem = ConfusionMatrixHost.TryReadOptions(builder.Configuration, out var options);
if (problem is not null)
{
    Console.Error.WriteLine($"Configuration error: {problem}");
    return 2;
}

var app = ConfusionMatrixHost.Build(builder, options);
await app.RunAsync();
return 0;
