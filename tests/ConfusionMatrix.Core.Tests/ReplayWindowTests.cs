namespace ConfusionMatrix.Core.Tests;

public sealed class ReplayWindowTests
{
    [Fact]
    public void InOrder_EveryNumberAcceptedOnce()
    {
        var w = new ReplayWindow();
        const long last = ReplayWindow.Width + 200;
        for (long s = 1; s <= last; s++)
        {
            Assert.Equal(ReplayDecision.Accept, w.Check(s));
            w.Mark(s);
            Assert.Equal(ReplayDecision.Duplicate, w.Check(s));
        }

        Assert.Equal(last, w.Highest);
        Assert.Equal(ReplayDecision.Duplicate, w.Check(last - ReplayWindow.Width + 1));
        Assert.Equal(ReplayDecision.TooOld, w.Check(last - ReplayWindow.Width));
    }

    [Fact]
    public void ReorderedWithinWindow_IsAcceptedOnce_GapsStayOpen()
    {
        var w = new ReplayWindow();
        w.Mark(10);
        w.Mark(7);
        Assert.Equal(ReplayDecision.Duplicate, w.Check(7));
        Assert.Equal(ReplayDecision.Accept, w.Check(8));
        Assert.Equal(ReplayDecision.Accept, w.Check(9));
        w.Mark(9);
        Assert.Equal(ReplayDecision.Duplicate, w.Check(9));
        Assert.Equal(ReplayDecision.Duplicate, w.Check(10));
        Assert.Equal(ReplayDecision.Accept, w.Check(11));
    }

    [Fact]
    public void LargeJump_ClearsTheBitmap_AndPersistenceRoundTrips()
    {
        var w = new ReplayWindow();
        w.Mark(1);
        w.Mark(1 + ReplayWindow.Width);
        Assert.Equal(1UL, w.Seen);
        Assert.Null(w.Older);
        Assert.Equal(ReplayDecision.TooOld, w.Check(1));
        Assert.Equal(ReplayDecision.Accept, w.Check(ReplayWindow.Width));

        var restored = new ReplayWindow(w.Highest, w.Seen, w.Older);
        Assert.Equal(ReplayDecision.Duplicate, restored.Check(1 + ReplayWindow.Width));
        Assert.Equal(ReplayDecision.Accept, restored.Check(2 + ReplayWindow.Width));
    }

    [Fact]
    public void BatchRedeliveredThousandsOfNumbersLate_IsCountedOnce()
    {
        // An Azure Queue message held by a killed silo returns after its visibility timeout, behind later batches.
        var w = new ReplayWindow();
        for (long s = 1; s <= 3000; s++)
        {
            if (s != 17)
            {
                w.Mark(s);
            }
        }

        Assert.Equal(ReplayDecision.Accept, w.Check(17));
        w.Mark(17);
        Assert.Equal(ReplayDecision.Duplicate, w.Check(17));
        Assert.Equal(ReplayDecision.Duplicate, w.Check(18));

        var restored = new ReplayWindow(w.Highest, w.Seen, w.Older);
        Assert.Equal(ReplayDecision.Duplicate, restored.Check(17));
        Assert.Equal(ReplayDecision.Duplicate, restored.Check(2999));
        Assert.Equal(ReplayDecision.Accept, restored.Check(3001));
    }

    [Fact]
    public void RandomReorderingAcrossTheWholeWidth_NeverAcceptsTwice_NorRejectsNew()
    {
        var random = new Random(11);
        var w = new ReplayWindow();
        var applied = new HashSet<long>();
        long next = 1;
        for (var round = 0; round < 40; round++)
        {
            // Blocks of 1500 numbers, shuffled, every number delivered twice, older stragglers mixed in.
            var block = Enumerable.Range(0, 1500).Select(i => next + i).SelectMany(s => new[] { s, s }).OrderBy(_ => random.Next()).ToList();
            next += 1500;
            foreach (var s in block)
            {
                var decision = w.Check(s);
                Assert.Equal(applied.Contains(s) ? ReplayDecision.Duplicate : ReplayDecision.Accept, decision);
                if (decision == ReplayDecision.Accept)
                {
                    w.Mark(s);
                    applied.Add(s);
                }
            }
        }

        Assert.Equal(40 * 1500, applied.Count);
    }

    [Fact]
    public void RandomPermutationsWithinWindow_NeverAcceptTwice_NeverRejectNew()
    {
        var random = new Random(5);
        var w = new ReplayWindow();
        var applied = new HashSet<long>();
        long next = 1;
        for (var round = 0; round < 2000; round++)
        {
            // Deliver a shuffled block of 32 new numbers with every number delivered twice.
            var block = Enumerable.Range(0, 32).Select(i => next + i).SelectMany(s => new[] { s, s }).OrderBy(_ => random.Next()).ToList();
            next += 32;
            foreach (var s in block)
            {
                var decision = w.Check(s);
                Assert.Equal(applied.Contains(s) ? ReplayDecision.Duplicate : ReplayDecision.Accept, decision);
                if (decision == ReplayDecision.Accept)
                {
                    w.Mark(s);
                    applied.Add(s);
                }
            }
        }

        Assert.Equal(2000 * 32, applied.Count);
    }
}
