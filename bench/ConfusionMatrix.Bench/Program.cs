using System.Globalization;
using ConfusionMatrix.Bench;

// Modes: kernel | e2e | peers | labels | cluster | largek | cli | drift | summary. See ../README.md; ../run.sh runs them all in order.
CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;

if (args.Length == 0)
{
    Console.Error.WriteLine("usage: ConfusionMatrix.Bench <kernel|e2e|peers|labels|largek|cluster|cli|drift|summary> [--quick] [--results DIR] [--azure CONNECTION_STRING] [--python PATH] [--peers-script PATH]");
    return 2;
}

var mode = args[0];
var quick = args.Contains("--quick");
string Option(string name, string fallback)
{
    var i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
}

var resultsDir = Path.GetFullPath(Option("--results", Path.Combine(Directory.GetCurrentDirectory(), "results")));
var azure = Option("--azure", Environment.GetEnvironmentVariable("CMBENCH_AZURE_CONNECTION") ?? "");
Console.WriteLine($"[{mode}] quick={quick} cores={Environment.ProcessorCount} serverGC={System.Runtime.GCSettings.IsServerGC}");

switch (mode)
{
    case "kernel":
        KernelBench.Run(quick, resultsDir);
        break;
    case "e2e":
        await EndToEnd.RunAsync(quick, resultsDir, azure);
        break;
    case "peers":
        Peers.Run(quick, resultsDir, Option("--python", "/usr/bin/python3"), Option("--peers-script", Path.Combine(AppContext.BaseDirectory, "peers.py")));
        break;
    case "labels":
        await LabelJoin.RunAsync(quick, resultsDir);
        break;
    case "cluster":
        await ClusterScaling.RunAsync(quick, resultsDir, azure);
        break;
    case "largek":
        LargeK.Run(quick, resultsDir);
        break;
    case "cli":
        CliEvaluateBench.Run(quick, resultsDir, Option("--python", "/usr/bin/python3"), Option("--peers-script", Path.Combine(AppContext.BaseDirectory, "peers_ndjson.py")), Option("--cmx", ""));
        break;
    case "drift":
        DriftSimulation.Run(quick, resultsDir);
        break;
    case "http":
        await HttpNdjsonBench.RunAsync(quick, resultsDir, Option("--python", "/usr/bin/python3"), Option("--peers-script", Path.Combine(AppContext.BaseDirectory, "peers_ndjson.py")));
        break;
    case "summary":
        Summary.Print(resultsDir);
        break;
    default:
        Console.Error.WriteLine($"unknown mode '{mode}'");
        return 2;
}

return 0;
