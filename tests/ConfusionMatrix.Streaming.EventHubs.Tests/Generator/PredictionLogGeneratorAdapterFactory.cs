using Azure.Messaging.EventHubs;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Orleans.Configuration;
using Orleans.Statistics;
using Orleans.Streaming.EventHubs;
using Orleans.Streaming.EventHubs.Testing;

namespace ConfusionMatrix.Streaming.EventHubs.Tests;

/// <summary>
/// Orleans' <see cref="EventDataGeneratorAdapterFactory"/> with one change: each partition reads its stream generators
/// through <see cref="PollingPartitionDataGenerator"/>. Orleans' own <c>EventHubPartitionDataGenerator</c> loops until
/// it has collected the requested count, so a generator with a finite script (or one told to stop producing) spins a
/// thread forever; and an empty read makes its receiver wait five seconds. The command protocol
/// (<see cref="EventDataGeneratorAdapterFactory.Commands"/>) is unchanged.
/// </summary>
public sealed class PredictionLogGeneratorAdapterFactory(
    string name,
    EventDataGeneratorStreamOptions options,
    EventHubOptions ehOptions,
    EventHubReceiverOptions receiverOptions,
    EventHubStreamCachePressureOptions cacheOptions,
    StreamCacheEvictionOptions evictionOptions,
    StreamStatisticOptions statisticOptions,
    IEventHubDataAdapter dataAdapter,
    IServiceProvider serviceProvider,
    ILoggerFactory loggerFactory,
    IEnvironmentStatisticsProvider environmentStatisticsProvider)
    : EventDataGeneratorAdapterFactory(name, options, ehOptions, receiverOptions, cacheOptions, evictionOptions, statisticOptions, dataAdapter, serviceProvider, loggerFactory, environmentStatisticsProvider)
{
    public override void Init()
    {
        base.Init();
        var generators = serviceProvider.GetKeyedService<Func<StreamId, IStreamDataGenerator<EventData>>>(Name)
            ?? throw new InvalidOperationException($"No stream data generator is registered for provider '{Name}'.");
        EventHubReceiverFactory = (_, _, _) => new EventHubPartitionGeneratorReceiver(new PollingPartitionDataGenerator(generators));
    }

    public static new PredictionLogGeneratorAdapterFactory Create(IServiceProvider services, string name)
    {
        var factory = ActivatorUtilities.CreateInstance<PredictionLogGeneratorAdapterFactory>(
            services,
            name,
            services.GetOptionsByName<EventDataGeneratorStreamOptions>(name),
            services.GetOptionsByName<EventHubOptions>(name),
            services.GetOptionsByName<EventHubReceiverOptions>(name),
            services.GetOptionsByName<EventHubStreamCachePressureOptions>(name),
            services.GetOptionsByName<StreamCacheEvictionOptions>(name),
            services.GetOptionsByName<StreamStatisticOptions>(name),
            services.GetRequiredKeyedService<IEventHubDataAdapter>(name));
        factory.Init();
        return factory;
    }
}

/// <summary>
/// Reads one simulated partition: asks each stream generator placed on it for what it has, up to the requested count,
/// and returns whatever that is, possibly nothing. Returning "true, no events" (rather than false) lets the pulling
/// agent poll again on its own timer instead of after the receiver's five-second idle wait.
/// </summary>
public sealed class PollingPartitionDataGenerator(Func<StreamId, IStreamDataGenerator<EventData>> generatorFactory)
    : IDataGenerator<EventData>, IStreamDataGeneratingController
{
    private readonly object _lock = new();
    private readonly List<IStreamDataGenerator<EventData>> _generators = [];
    private readonly Counter _sequence = new();

    public void AddDataGeneratorForStream(StreamId streamId)
    {
        var generator = generatorFactory(streamId);
        generator.SequenceNumberCounter = _sequence;
        lock (_lock)
        {
            _generators.Add(generator);
        }
    }

    public void StopProducingOnStream(StreamId streamId)
    {
        lock (_lock)
        {
            foreach (var generator in _generators.Where(g => g.StreamId.Equals(streamId)))
            {
                generator.ShouldProduce = false;
            }
        }
    }

    public bool TryReadEvents(int maxCount, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out IEnumerable<EventData>? events)
    {
        var read = new List<EventData>();
        lock (_lock)
        {
            foreach (var generator in _generators)
            {
                if (read.Count >= maxCount)
                {
                    break;
                }

                if (generator.TryReadEvents(maxCount - read.Count, out var produced))
                {
                    read.AddRange(produced.Take(maxCount - read.Count));
                }
            }
        }

        events = read;
        return true;
    }

    private sealed class Counter : IIntCounter
    {
        private int _value;

        public int Value => Volatile.Read(ref _value);

        public void Increment() => Interlocked.Increment(ref _value);
    }
}
