using ConfusionMatrix.Silo.Hosting;

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
