using System;
using System.Collections.Generic;
using System.IO;
using System.Threading;
using System.Threading.Tasks;
using Haywire.Owin.Transport;
using NUnit.Framework;

namespace Haywire.Owin.Tests
{
    /// <summary>
    /// ReadBodyAsync and WriteBodyAsync wait without a thread: many slow clients cost no pool threads, and every
    /// pending call completes when the pump delivers, the window opens, the token fires or the request ends.
    /// </summary>
    [TestFixture]
    public class TransportAsyncTests
    {
        private TransportEngine _engine;
        private HostConnection _conn;
        private readonly List<RawClient> _clients = new List<RawClient>();
        private int _minWorkers, _minIo;

        [SetUp]
        public void SetUp()
        {
            _engine = new TransportEngine("--chunks 2048");
            _conn = _engine.AttachReady();
            // Few pool threads, as on a busy server: a call that parks one would starve the pool at once.
            ThreadPool.GetMinThreads(out _minWorkers, out _minIo);
            ThreadPool.SetMinThreads(Environment.ProcessorCount, _minIo);
        }

        [TearDown]
        public void TearDown()
        {
            ThreadPool.SetMinThreads(_minWorkers, _minIo);
            foreach (RawClient c in _clients)
                c.Dispose();
            _clients.Clear();
            _conn.Dispose();
            _engine.Dispose();
        }

        private List<HostRequest> Requests(int n, Func<int, string> request)
        {
            for (int i = 0; i < n; i++)
            {
                var client = new RawClient(_engine.Port);
                _clients.Add(client);
                client.Send(request(i));
            }
            // The engine hands them over in any order: put request i (target ".../i") at i, beside client i.
            var got = new HostRequest[n];
            for (int k = 0; k < n; k++)
            {
                HostRequest r = _conn.Next(10000);
                Assert.IsNotNull(r, "request " + k + " of " + n + " did not reach the host; engine stderr: " + _engine.Stderr);
                string path = r.RawPath;
                got[int.Parse(path.Substring(path.LastIndexOf('/') + 1))] = r;
            }
            return new List<HostRequest>(got);
        }

        /// <summary>The pool still runs a new work item at once (nothing parked its threads).</summary>
        private static void AssertPoolResponsive(string what)
        {
            Task<int> probe = Task.Run(() => 42);
            Assert.That(probe.Wait(2000), Is.True, "a work item queued while " + what + " did not run within 2 s: the pool is starved");
            int maxWorkers, maxIo, freeWorkers, freeIo;
            ThreadPool.GetMaxThreads(out maxWorkers, out maxIo);
            ThreadPool.GetAvailableThreads(out freeWorkers, out freeIo);
            Assert.That(maxWorkers - freeWorkers, Is.LessThan(16), "pool threads busy while " + what);
        }

        /// <summary>Reads with ReadBodyAsync until a read does not complete at once; returns that read.</summary>
        private static Task<int> FirstPendingRead(HostRequest r, byte[] buf)
        {
            while (true)
            {
                Task<int> t = r.ReadBodyAsync(buf, 0, buf.Length, CancellationToken.None);
                if (!t.IsCompleted)
                    return t;
                Assert.That(t.Result, Is.GreaterThan(0), "the body ended early");
            }
        }

        /// <summary>
        /// Writes until a WriteBodyAsync stays pending (the client reads nothing: the sockets fill, then the stream's
        /// window of 8 chunks stays shut); returns that write. written counts every byte handed over.
        /// </summary>
        private static Task FirstHeldWrite(HostRequest r, byte[] chunk, ref long written)
        {
            while (true)
            {
                Task t = r.WriteBodyAsync(chunk, 0, chunk.Length, CancellationToken.None);
                written += chunk.Length;
                if (!t.Wait(300))
                    return t;
                Assert.That(written, Is.LessThan(256L << 20), "a client that reads nothing took 256 MiB");
            }
        }

        [Test]
        public void TwoHundredPendingReadsHoldNoPoolThreads()
        {
            const int n = 200;
            List<HostRequest> reqs = Requests(n, i =>
                "POST /slow/" + i + " HTTP/1.1\r\nHost: h\r\nContent-Length: 100000\r\n\r\n");
            var reads = new Task<int>[n];
            for (int i = 0; i < n; i++)
            {
                Assert.That(reqs[i].BodyStreamed, Is.True);
                reads[i] = FirstPendingRead(reqs[i], new byte[4096]);
            }
            Assert.That(TransportAssert.Eventually(() => _conn.AsyncReaders == n, 10000), Is.True,
                "all reads wait (" + _conn.AsyncReaders + " of " + n + ")");
            AssertPoolResponsive(n + " reads wait");
            foreach (Task<int> t in reads)
                Assert.That(t.IsCompleted, Is.False, "no body was sent yet");

            // Nobody calls Next from here on: the connection's body pump delivers the pieces.
            var piece = new byte[1000];
            foreach (RawClient c in _clients)
                c.Send(piece);
            Assert.That(Task.WaitAll(reads, 20000), Is.True, "every pending read completes once its piece comes");
            foreach (Task<int> t in reads)
                Assert.That(t.Result, Is.GreaterThan(0));
            Assert.That(_conn.AsyncReaders, Is.EqualTo(0));
            for (int i = 0; i < n; i++)
                TransportAssert.RespondText(reqs[i], 200, "ok " + i);
            for (int i = 0; i < n; i++)
                Assert.That(_clients[i].ReadResponse().Text, Is.EqualTo("ok " + i));
        }

        [Test]
        public void ManyPendingWritesHoldNoPoolThreads()
        {
            const int n = 32;
            List<HostRequest> reqs = Requests(n, i => RawClient.Get("/big/" + i));
            var chunk = TransportAssert.Bytes(16384, 11);
            var writes = new Task[n];
            var written = new long[n];
            for (int i = 0; i < n; i++)
            {
                reqs[i].StartResponse(200, null, TransportAssert.TextPlain, -1);
                writes[i] = FirstHeldWrite(reqs[i], chunk, ref written[i]);
            }
            Assert.That(TransportAssert.Eventually(() => _conn.WindowWaiters == n, 20000), Is.True,
                "all writes wait for their window (" + _conn.WindowWaiters + " of " + n + ")");
            AssertPoolResponsive(n + " writes wait");
            foreach (Task t in writes)
                Assert.That(t.IsCompleted, Is.False, "no client read yet");

            var bodies = new Task<RawResponse>[n];
            for (int i = 0; i < n; i++)
            {
                RawClient c = _clients[i];
                bodies[i] = Task.Factory.StartNew(() => c.ReadResponse(), TaskCreationOptions.LongRunning);
            }
            Assert.That(Task.WaitAll(writes, 30000), Is.True, "every pending write completes once its client reads");
            for (int i = 0; i < n; i++)
                reqs[i].EndResponse();
            Assert.That(Task.WaitAll(bodies, 30000), Is.True);
            for (int i = 0; i < n; i++)
            {
                Assert.That(bodies[i].Result.Chunked, Is.True);
                Assert.That(bodies[i].Result.Body.Length, Is.EqualTo(written[i]));
            }
            Assert.That(_conn.WindowWaiters, Is.EqualTo(0));
        }

        [Test]
        public void CancellingAPendingReadCancelsItsTaskOnly()
        {
            HostRequest r = Requests(1, i => "POST /c/" + i + " HTTP/1.1\r\nHost: h\r\nContent-Length: 100000\r\n\r\n")[0];
            var buf = new byte[16];
            using (var cts = new CancellationTokenSource())
            {
                Task<int> t = r.ReadBodyAsync(buf, 0, buf.Length, cts.Token);
                Assert.That(TransportAssert.Eventually(() => _conn.AsyncReaders == 1, 10000), Is.True, "the read waits");
                cts.Cancel();
                var ex = Assert.Throws<AggregateException>(() => t.Wait(5000));
                Assert.That(ex.InnerException, Is.InstanceOf<OperationCanceledException>());
                Assert.That(t.IsCanceled, Is.True);
            }
            Assert.That(_conn.AsyncReaders, Is.EqualTo(0));
            // The request is still usable: the next read gets the body.
            Task<int> again = r.ReadBodyAsync(buf, 0, buf.Length, CancellationToken.None);
            _clients[0].Send("0123456789");
            Assert.That(again.Wait(10000), Is.True);
            Assert.That(again.Result, Is.GreaterThan(0));
            TransportAssert.RespondText(r, 200, "ok");
            Assert.That(_clients[0].ReadResponse().Text, Is.EqualTo("ok"));
        }

        [Test]
        public void ConcurrentPendingReadsShareTheWaitAndBothComplete()
        {
            HostRequest r = Requests(1, i => "POST /two/" + i + " HTTP/1.1\r\nHost: h\r\nContent-Length: 100000\r\n\r\n")[0];
            Task<int> a = FirstPendingRead(r, new byte[4096]);
            Task<int> b = r.ReadBodyAsync(new byte[4096], 0, 4096, CancellationToken.None);
            Assert.That(TransportAssert.Eventually(() => _conn.AsyncReaders == 1, 10000), Is.True, "one wait, counted once");
            _clients[0].Send(new byte[100000]);
            Assert.That(Task.WaitAll(new Task[] { a, b }, 10000), Is.True, "both reads complete");
            Assert.That(a.Result, Is.GreaterThan(0));
            Assert.That(b.Result, Is.GreaterThan(0));
            Assert.That(_conn.AsyncReaders, Is.EqualTo(0));
            TransportAssert.RespondText(r, 200, "ok");
            Assert.That(_clients[0].ReadResponse().Text, Is.EqualTo("ok"));
        }

        [Test]
        public void ClientLeavingFailsAPendingRead()
        {
            HostRequest r = Requests(1, i => "POST /gone/" + i + " HTTP/1.1\r\nHost: h\r\nContent-Length: 1000000\r\n\r\n")[0];
            Task<int> t = FirstPendingRead(r, new byte[4096]);
            _clients[0].Tcp.Client.Shutdown(System.Net.Sockets.SocketShutdown.Both);
            _clients[0].Tcp.Close();
            var ex = Assert.Throws<AggregateException>(() => t.Wait(10000));
            Assert.That(ex.InnerException, Is.InstanceOf<IOException>());
            Assert.That(r.Cancelled, Is.True);
            TransportAssert.RespondText(r, 200, "nobody listens");
        }

        [Test]
        public void AnsweringEndsAPendingReadWithTheEnd()
        {
            HostRequest r = Requests(1, i => "POST /early/" + i + " HTTP/1.1\r\nHost: h\r\nContent-Length: 1000000\r\n\r\n")[0];
            Task<int> t = FirstPendingRead(r, new byte[4096]);
            TransportAssert.RespondText(r, 413, "no thanks");
            Assert.That(t.Wait(10000), Is.True);
            Assert.That(t.Result, Is.EqualTo(0), "an answered request has no more body to read");
            Assert.That(_clients[0].ReadResponse().Status, Is.EqualTo(413));
        }

        [Test]
        public void DisposeFailsPendingReadsAndWrites()
        {
            List<HostRequest> reqs = Requests(2, i => i == 0
                ? "POST /r/0 HTTP/1.1\r\nHost: h\r\nContent-Length: 1000000\r\n\r\n"
                : RawClient.Get("/w/1"));
            Task<int> read = FirstPendingRead(reqs[0], new byte[4096]);
            reqs[1].StartResponse(200, null, TransportAssert.TextPlain, -1);
            long written = 0;
            Task write = FirstHeldWrite(reqs[1], new byte[16384], ref written);
            Assert.That(TransportAssert.Eventually(() => _conn.WindowWaiters == 1, 20000), Is.True, "the write waits");
            _conn.Dispose();
            var ex = Assert.Throws<AggregateException>(() => read.Wait(5000));
            Assert.That(ex.InnerException, Is.InstanceOf<IOException>());
            ex = Assert.Throws<AggregateException>(() => write.Wait(5000));
            Assert.That(ex.InnerException, Is.InstanceOf<IOException>());
        }
    }
}
