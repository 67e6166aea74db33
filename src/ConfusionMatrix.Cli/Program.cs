using ConfusionMatrix.Cli;

return await CmxApp.RunAsync(args, Console.Out, Console.Error);
