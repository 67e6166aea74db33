using ConfusionMatrix.Abstractions;
using ConfusionMatrix.Client;
using InferenceService;
using Microsoft.Extensions.Options;

var builder = WebApplication.CreateBuilder(args);

// Fail fast, naming the bad setting, before anything connects.
var inference = builder.Configuration.GetSection(InferenceOptions.SectionName).Get<InferenceOptions>() ?? new InferenceOptions();
var check = new InferenceOptionsValidator().Validate(null, inference);
if (check.Failed)
{
    throw new OptionsValidationException(InferenceOptions.SectionName, typeof(InferenceOptions), check.Failures);
}

builder.Services.AddSingleton<IValidateOptions<InferenceOptions>, InferenceOptionsValidator>();
builder.Services.AddOptions<InferenceOptions>().BindConfiguration(InferenceOptions.SectionName).ValidateOnStart();
builder.Services.AddSingleton(TimeProvider.System);

builder.UseOrleansClient(client =>
{
    client.UseLocalhostClustering(inference.GatewayPort, inference.ServiceId, inference.ClusterId);
    client.AddMemoryStreams(PredictionLog.StreamProvider, streams =>
    {
        streams.ConfigurePartitioning(inference.StreamQueueCount);
        streams.ConfigureStreamPubSub(Orleans.Streams.StreamPubSubType.ImplicitOnly);
    });
});

// Added after the Orleans client, so on shutdown the logger drains before the client disconnects.
var loggerOptions = inference.Sink == "grain"
    ? builder.Services.AddPredictionLogger<OrleansGrainCallSink>()
    : builder.Services.AddPredictionLogger<OrleansStreamSink>();
loggerOptions.BindConfiguration(PredictionLoggerOptions.SectionName).Configure(o => o.ServiceName = "inference-sample");
builder.Services.AddSingleton<RoutingCache>();
if (inference.RegisterModelOnStart)
{
    builder.Services.AddHostedService<ModelBootstrap>();
}

var app = builder.Build();

app.MapPost("/score", async (ScoreRequest request, RoutingCache routing, PredictionLogger predictions, IOptions<InferenceOptions> options, TimeProvider time, CancellationToken cancellationToken) =>
{
    if (request.Label is not (FakeModel.Fraud or FakeModel.Legit))
    {
        return Results.BadRequest(new { error = $"'label' must be '{FakeModel.Fraud}' or '{FakeModel.Legit}'" });
    }

    var model = options.Value.Model;
    var requestId = string.IsNullOrWhiteSpace(request.RequestId) ? Guid.NewGuid().ToString("N") : request.RequestId;
    var version = await routing.ChooseVersionAsync(FakeModel.Draw(requestId), cancellationToken);
    var (predicted, score) = FakeModel.Score(version, request);

    var segments = new Dictionary<string, string>(StringComparer.Ordinal);
    if (!string.IsNullOrWhiteSpace(request.Region))
    {
        segments["region"] = request.Region;
    }

    if (!string.IsNullOrWhiteSpace(request.Channel))
    {
        segments["channel"] = request.Channel;
    }

    // Never blocks the request: a full buffer or invalid input shows up on the client's metrics, not as latency.
    var logged = predictions.TryLog(new Prediction(requestId, model, version, predicted, request.Label)
    {
        Score = score,
        Timestamp = time.GetUtcNow(),
        Segments = segments,
    });
    return Results.Ok(new ScoreResponse(requestId, model, version, predicted, score, logged));
});

app.MapGet("/", (PredictionLogger predictions) => Results.Ok(new { service = "inference-sample", producerId = predictions.ProducerId, buffered = predictions.BufferedCount }));

app.Run();
