// The tests here start whole silo processes or publish the silo; run them one at a time on a 2-core machine.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
