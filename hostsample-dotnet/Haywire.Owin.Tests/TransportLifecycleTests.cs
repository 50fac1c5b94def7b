using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Threading;
using System.Threading.Tasks;
using Haywire.Owin.Transport;
using NUnit.Framework;

namespace Haywire.Owin.Tests
{
    /// <summary>Attach, lanes, hot swap, engine death and engine stop, with real processes.</summary>
    [TestFixture]
    public class TransportLifecycleTests
    {
        private readonly List<IDisposable> _cleanup = new List<IDisposable>();

        [TearDown]
        public void TearDown()
        {
            // Hosts first, then engines (the list holds them in creation order).
            for (int i = _cleanup.Count - 1; i >= 0; i--)
                try
                {
                    _cleanup[i].Dispose();
                }
                catch (Exception)
                {
                }
            _cleanup.Clear();
        }

        private T Keep<T>(T d) where T : IDisposable
        {
            _cleanup.Add(d);
            return d;
        }

        [Test]
        public void AttachToAMissingRegionSaysSo()
        {
            string dir = Path.GetTempPath();
            string name = "haywire-" + Guid.NewGuid().ToString();
            var ex = Assert.Throws<RegionNotFoundException>(() => HostConnection.Attach(name, dir, TimeSpan.Zero));
            StringAssert.Contains("no such region", ex.Message);
            StringAssert.Contains(name, ex.Message);
        }

        [Test]
        public void AttachRefusesWhatIsNotARegionName()
        {
            var bads = new[]
            {
                "", "haywire", "nope-" + Guid.NewGuid(), "haywire-" + Guid.NewGuid().ToString().ToUpperInvariant(),
                "haywire-" + Guid.NewGuid() + ".0", "haywire-" + Guid.NewGuid() + ".64", "haywire-" + Guid.NewGuid() + "/x",
            };
            foreach (string bad in bads)
            {
                var ex = Assert.Throws<HaywireException>(() => HostConnection.Attach(bad, null, TimeSpan.Zero), bad);
                StringAssert.Contains("not a region name", ex.Message, bad);
            }
        }

        [Test]
        public void AttachTakesTheNextLaneAndFailsWhenAllAreTaken()
        {
            var engine = Keep(new TransportEngine("--lanes 2"));
            HostConnection first = Keep(engine.Attach());
            HostConnection second = Keep(engine.Attach());
            Assert.That(first.Lane, Is.EqualTo(0));
            Assert.That(second.Lane, Is.EqualTo(1));
            Assert.That(second.RegionName, Is.EqualTo(engine.Region + ".1"));
            var sw = Stopwatch.StartNew();
            var ex = Assert.Throws<HaywireException>(() => HostConnection.Attach(engine.Region, engine.RegionDir, TimeSpan.FromMilliseconds(300)));
            Assert.That(sw.ElapsedMilliseconds, Is.GreaterThanOrEqualTo(250), "it scans again until the timeout");
            StringAssert.Contains("all 2 lanes", ex.Message);
            StringAssert.Contains("pid " + Process.GetCurrentProcess().Id, ex.Message);
            // A lane named explicitly is attached alone.
            second.Dispose();
            using (HostConnection byName = HostConnection.Attach(engine.Region + ".1", engine.RegionDir, TimeSpan.FromSeconds(1)))
                Assert.That(byName.Lane, Is.EqualTo(1));
        }

        [Test]
        public void AttachWaitsForALaneToComeFree()
        {
            var engine = Keep(new TransportEngine("--lanes 1"));
            HostConnection first = engine.Attach();
            long busy = HostConnection.BusyScans;
            var later = Task.Run(() => HostConnection.Attach(engine.Region, engine.RegionDir, TimeSpan.FromSeconds(20)));
            Assert.That(TransportAssert.Eventually(() => HostConnection.BusyScans > busy, 10000), Is.True, "the second attach finds the lane taken");
            Assert.That(later.IsCompleted, Is.False);
            first.Dispose();
            Assert.That(later.Wait(5000), Is.True);
            Keep(later.Result);
            Assert.That(later.Result.Lane, Is.EqualTo(0));
        }

        [Test]
        public void EngineKilledMakesNextThrowAndCancelsRequestsInFlight()
        {
            var engine = Keep(new TransportEngine("--host-timeout-ms 500"));
            HostConnection conn = Keep(engine.AttachReady());
            var client = Keep(new RawClient(engine.Port));
            client.Send(RawClient.Get("/held"));
            HostRequest r = conn.Next(10000);
            Assert.IsNotNull(r);
            var cancelled = new ManualResetEventSlim();
            r.CancellationToken.Register(cancelled.Set);
            long idle = conn.NextIdleRounds;
            var next = Task.Run(() => conn.Next(-1));
            Assert.That(TransportAssert.Eventually(() => conn.NextIdleRounds > idle, 10000), Is.True, "Next waits");
            var sw = Stopwatch.StartNew();
            engine.KillHard();
            var ex = Assert.Throws<AggregateException>(() => next.Wait(5000));
            Assert.That(ex.InnerException, Is.InstanceOf<HaywireException>());
            Assert.That(sw.ElapsedMilliseconds, Is.LessThan(3000), "the engine's death is noticed within its liveness bound");
            StringAssert.Contains("engine", ex.InnerException.Message);
            Assert.That(cancelled.Wait(2000), Is.True, "requests in flight are cancelled");
            Assert.That(r.Cancelled, Is.True);
            Assert.Throws<IOException>(() => TransportAssert.RespondText(r, 200, "nobody to deliver it"));
            Assert.That(r.Completed, Is.True);
            Assert.That(conn.InFlight, Is.EqualTo(0));
            Assert.Throws<HaywireException>(() => conn.Next(0));
            conn.Dispose(); // the survivor reclaims the dead engine and detaches cleanly
        }

        [Test]
        public void EngineStoppedGracefullyEndsNext()
        {
            var engine = Keep(new TransportEngine());
            HostConnection conn = Keep(engine.AttachReady());
            long idle = conn.NextIdleRounds;
            var next = Task.Run(() => conn.Next(-1));
            Assert.That(TransportAssert.Eventually(() => conn.NextIdleRounds > idle, 10000), Is.True, "Next waits");
            Assert.That(engine.Terminate(10000), Is.True);
            var ex = Assert.Throws<AggregateException>(() => next.Wait(5000));
            Assert.That(ex.InnerException, Is.InstanceOf<HaywireException>());
            StringAssert.Contains("engine", ex.InnerException.Message);
        }

        [Test]
        public void EngineStopWaitsForTheResponseInFlight()
        {
            var engine = Keep(new TransportEngine());
            HostConnection conn = Keep(engine.AttachReady());
            var client = Keep(new RawClient(engine.Port));
            client.Send(RawClient.Get("/last"));
            HostRequest r = conn.Next(10000);
            Assert.IsNotNull(r);
            var stop = Task.Run(() => engine.Terminate(10000));
            // Stopping, it closes its listener first: answer only once it no longer accepts.
            Assert.That(TransportAssert.Eventually(() => !TransportAssert.Accepts(engine.Port), 10000), Is.True, "the engine is stopping");
            Assert.That(stop.IsCompleted, Is.False, "it waits for the response in flight");
            TransportAssert.RespondText(r, 200, "last words");
            Assert.That(client.ReadResponse().Text, Is.EqualTo("last words"));
            Assert.That(stop.Wait(10000) && stop.Result, Is.True);
        }

        [Test]
        public void HotSwapDrainsTheOldHostAfterItsRequests()
        {
            var engine = Keep(new TransportEngine("--lanes 2"));
            HostConnection oldHost = Keep(engine.AttachReady());
            var client = Keep(new RawClient(engine.Port));
            client.Send(RawClient.Get("/before-swap"));
            HostRequest held = oldHost.Next(10000);
            Assert.IsNotNull(held);

            HostConnection newHost = Keep(engine.Attach());
            Assert.That(newHost.Lane, Is.EqualTo(1));
            Keep(new ServeLoop(newHost, q => TransportAssert.RespondText(q, 200, "new")));
            // The old host learns of the drain while it calls Next; its request in flight is still its own.
            Exception ended = null;
            var oldNext = Task.Run(() =>
            {
                try
                {
                    while (true)
                    {
                        HostRequest q = oldHost.Next(100);
                        if (q != null)
                            TransportAssert.RespondText(q, 200, "old");
                    }
                }
                catch (Exception e)
                {
                    ended = e;
                }
            });
            Assert.That(TransportAssert.Eventually(() => oldHost.Draining, 5000), Is.True, "the engine tells the old host to drain");
            using (var other = new RawClient(engine.Port))
                Assert.That(other.Roundtrip(RawClient.Get("/after-swap")).Text, Is.EqualTo("new"));
            TransportAssert.RespondText(held, 200, "old, answered while draining");
            Assert.That(client.ReadResponse().Text, Is.EqualTo("old, answered while draining"));
            Assert.That(oldNext.Wait(5000), Is.True);
            Assert.That(ended, Is.InstanceOf<DrainedException>());
            oldHost.Dispose();
            using (var other = new RawClient(engine.Port))
                Assert.That(other.Roundtrip(RawClient.Get("/still")).Text, Is.EqualTo("new"));
        }

        [Test]
        public void LeaveMakesTheEngineDrainAfterTheRequestsItSent()
        {
            // A long host wait: the request sent after the leave waits for the next host however slow the machine.
            var engine = Keep(new TransportEngine("--lanes 2", "--host-wait-ms 30000"));
            HostConnection conn = Keep(engine.AttachReady());
            var clients = new List<RawClient>();
            for (int i = 0; i < 3; i++)
            {
                RawClient c = Keep(new RawClient(engine.Port));
                c.Send(RawClient.Get("/before-" + i));
                clients.Add(c);
            }
            // Nobody pumps: the three views wait on ring 0 (or in the ready queue, had a sweep taken them).
            Assert.That(TransportAssert.Eventually(() => conn.Unread + conn.ReadyCount() >= 3, 10000), Is.True,
                        "the engine publishes the three requests");
            Assert.That(conn.Leaving, Is.False);
            conn.Leave();
            conn.Leave(); // only the first call sends
            Assert.That(conn.Leaving, Is.True);

            var got = new List<HostRequest>();
            Exception ended = null;
            var sw = Stopwatch.StartNew();
            while (ended == null && sw.ElapsedMilliseconds < 10000)
            {
                try
                {
                    HostRequest r = conn.Next(100);
                    if (r != null)
                        got.Add(r);
                }
                catch (DrainedException e)
                {
                    ended = e;
                }
            }
            Assert.That(ended, Is.InstanceOf<DrainedException>(), "the engine answers the leave with its own DRAIN");
            StringAssert.Contains("left", ended.Message);
            Assert.That(conn.Draining, Is.True);
            var paths = new List<string>();
            foreach (HostRequest r in got)
                paths.Add(r.Target);
            paths.Sort(StringComparer.Ordinal);
            Assert.That(paths, Is.EqualTo(new[] { "/before-0", "/before-1", "/before-2" }),
                        "every request published before the DRAIN is handed out, and nothing else");
            Assert.That(conn.InFlight, Is.EqualTo(3));

            // Routing has moved off this lane: a request now waits for another host rather than coming here.
            var late = Keep(new RawClient(engine.Port));
            late.Send(RawClient.Get("/after-leave"));
            // The leaving host still answers what it has.
            foreach (HostRequest r in got)
                TransportAssert.RespondText(r, 200, "answered " + r.Target);
            for (int i = 0; i < 3; i++)
            {
                RawResponse resp = clients[i].ReadResponse();
                Assert.That(resp.Status, Is.EqualTo(200));
                Assert.That(resp.Text, Is.EqualTo("answered /before-" + i));
            }
            Assert.That(conn.InFlight, Is.EqualTo(0));
            Assert.Throws<DrainedException>(() => conn.Next(0), "drained for good");

            HostConnection next = Keep(engine.Attach());
            Assert.That(next.Lane, Is.EqualTo(1));
            Keep(new ServeLoop(next, q => TransportAssert.RespondText(q, 200, "next host " + q.Target)));
            RawResponse waited = late.ReadResponse();
            Assert.That(waited.Status, Is.EqualTo(200), "the request waited for a host: no 502, no 503");
            Assert.That(waited.Text, Is.EqualTo("next host /after-leave"));
            Assert.That(conn.Unread, Is.EqualTo(0), "nothing followed the engine's DRAIN on the left lane");
            conn.Dispose();
            Assert.Throws<ObjectDisposedException>(() => conn.Leave());
        }

        [Test]
        public void LeaveAfterTheEngineDrainedSendsNothingAndEndsTheSame()
        {
            var engine = Keep(new TransportEngine("--lanes 2"));
            HostConnection oldHost = Keep(engine.AttachReady());
            HostConnection newHost = Keep(engine.Attach());
            Keep(new ServeLoop(newHost, q => TransportAssert.RespondText(q, 200, "new")));
            Assert.Throws<DrainedException>(() =>
            {
                var sw = Stopwatch.StartNew();
                while (sw.ElapsedMilliseconds < 10000)
                    Assert.IsNull(oldHost.Next(100), "the old host had no request");
            }, "the hot swap drains the old host");
            oldHost.Leave(); // a late leave: harmless
            Assert.That(oldHost.Leaving, Is.True);
            var ex = Assert.Throws<DrainedException>(() => oldHost.Next(0));
            StringAssert.Contains("drained", ex.Message, "the engine's own notice came first");
            using (var client = new RawClient(engine.Port))
                Assert.That(client.Roundtrip(RawClient.Get("/x")).Text, Is.EqualTo("new"));
        }

        [Test]
        public void LeaveWhenTheEngineIsGoneSaysSo()
        {
            var engine = Keep(new TransportEngine());
            HostConnection conn = Keep(engine.AttachReady());
            Assert.That(engine.Terminate(10000), Is.True);
            Assert.That(TransportAssert.Eventually(() => conn.EngineGoneReason != null, 10000), Is.True, "the host sees the engine leave");
            var ex = Assert.Throws<HaywireException>(() => conn.Leave());
            StringAssert.Contains("engine", ex.Message);
        }

        [Test]
        public void HostKilledMidRequestIsReplacedByTheNextOne()
        {
            // A second process would be the honest host to kill; here the first host simply never answers and
            // disposes (detach), and the engine fails its request with 502 and serves the next host.
            var engine = Keep(new TransportEngine("--lanes 1"));
            HostConnection conn = engine.AttachReady();
            var client = Keep(new RawClient(engine.Port));
            client.Send(RawClient.Get("/orphan"));
            Assert.IsNotNull(conn.Next(10000));
            conn.Dispose();
            Assert.That(client.ReadResponse().Status, Is.EqualTo(502));
            HostConnection next = Keep(engine.AttachReady());
            Keep(new ServeLoop(next, q => TransportAssert.RespondText(q, 200, "next")));
            Assert.That(client.Roundtrip(RawClient.Get("/again")).Text, Is.EqualTo("next"));
        }
    
        [Test]
        public void AttachTakesTheLaneOfAHostKilledWithSigkill()
        {
            string cHost = Path.Combine(TransportEngine.BuildDir, "c_host");
            if (!File.Exists(cHost))
                Assert.Ignore("no " + cHost + " (run ./build.sh)");
            var engine = Keep(new TransportEngine("--lanes 1", "--host-timeout-ms 500"));
            var psi = new ProcessStartInfo(cHost, "--region " + engine.Region + " --region-dir " + engine.RegionDir)
            {
                UseShellExecute = false,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            using (Process other = Process.Start(psi))
            {
                try
                {
                    var client = Keep(new RawClient(engine.Port));
                    Assert.That(TransportAssert.Eventually(() => client.Roundtrip(RawClient.Get("/")).Status == 200, 5000), Is.True,
                                "the C host serves its hello world at /");
                    var busy = Assert.Throws<HaywireException>(() => HostConnection.Attach(engine.Region, engine.RegionDir, TimeSpan.Zero));
                    StringAssert.Contains("pid " + other.Id, busy.Message);
                    other.Kill(); // SIGKILL
                    other.WaitForExit(5000);
                    // The engine declares the dead host dead and reclaims the lane within its liveness bound.
                    HostConnection conn = Keep(HostConnection.Attach(engine.Region, engine.RegionDir, TimeSpan.FromSeconds(5)));
                    engine.WaitRouted(conn);
                    Keep(new ServeLoop(conn, q => TransportAssert.RespondText(q, 200, "managed")));
                    using (var again = new RawClient(engine.Port))
                        Assert.That(again.Roundtrip(RawClient.Get("/m")).Text, Is.EqualTo("managed"));
                }
                finally
                {
                    if (!other.HasExited)
                        other.Kill();
                }
            }
        }
    }
}
