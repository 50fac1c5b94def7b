using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Linq;
using System.Net;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using Haywire.Owin.Transport;
using NUnit.Framework;

namespace Haywire.Owin.Tests
{
    /// <summary>Requests and whole responses through a real engine and a HostConnection in this process.</summary>
    [TestFixture]
    public class TransportRequestTests
    {
        private TransportEngine _engine;
        private HostConnection _conn;
        private ServeLoop _loop;

        [SetUp]
        public void SetUp()
        {
            _engine = new TransportEngine();
            _conn = _engine.AttachReady();
        }

        [TearDown]
        public void TearDown()
        {
            if (_loop != null)
                _loop.Dispose();
            _loop = null;
            _conn.Dispose();
            _engine.Dispose();
        }

        private HostRequest NextOrFail()
        {
            HostRequest r = _conn.Next(10000);
            Assert.IsNotNull(r, "no request reached the host within 10 s; engine stderr: " + _engine.Stderr);
            return r;
        }

        [Test]
        public void GetRoundTripExposesEveryViewAccessor()
        {
            Assert.That(_conn.Lane, Is.EqualTo(0));
            Assert.That(_conn.RegionName, Is.EqualTo(_engine.Region));
            Assert.That(_conn.EnginePid, Is.EqualTo(_engine.Process.Id));
            using (var client = new RawClient(_engine.Port))
            {
                client.Send("GET /a%20b/c?x=1&y=%2F HTTP/1.1\r\nHost: example.test:81\r\nX-Rep: one\r\nUser-Agent: raw\r\n" +
                            "X-Rep: two\r\nX-Empty:\r\n\r\n");
                HostRequest r = NextOrFail();
                Assert.That(r.Method, Is.EqualTo("GET"));
                Assert.That(r.MethodId, Is.EqualTo(1));
                Assert.That(r.Target, Is.EqualTo("/a%20b/c?x=1&y=%2F"));
                Assert.That(r.RawPath, Is.EqualTo("/a%20b/c"));
                Assert.That(r.HasQuery, Is.True);
                Assert.That(r.RawQuery, Is.EqualTo("x=1&y=%2F"));
                Assert.That(r.Host, Is.EqualTo("example.test:81"));
                Assert.That(r.Authority, Is.EqualTo(""));
                Assert.That(r.HttpMinor, Is.EqualTo(1));
                Assert.That(r.KeepAlive, Is.True);
                Assert.That(r.IsHead, Is.False);
                Assert.That(r.ExpectContinue, Is.False);
                Assert.That(r.BodyStreamed, Is.False);
                Assert.That(r.Chunked, Is.False);
                Assert.That(r.ContentLength, Is.EqualTo(0));
                Assert.That(r.RequestId, Is.Not.EqualTo(0));
                var fields = Enumerable.Range(0, r.FieldCount).Select(i => r.FieldName(i) + "=" + r.FieldValue(i)).ToArray();
                Assert.That(fields, Is.EqualTo(new[] { "Host=example.test:81", "X-Rep=one", "User-Agent=raw", "X-Rep=two", "X-Empty=" }));
                Assert.That(r.RemoteIp, Is.EqualTo(IPAddress.Loopback));
                Assert.That(r.RemotePort, Is.EqualTo(client.LocalPort));
                Assert.That(r.LocalIp, Is.EqualTo(IPAddress.Loopback));
                Assert.That(r.LocalPort, Is.EqualTo(_engine.Port));
                Assert.That(r.ViewLength, Is.GreaterThan(136));
                Assert.That(_conn.InFlight, Is.EqualTo(1));
                Assert.Throws<ArgumentOutOfRangeException>(() => r.FieldName(r.FieldCount));
                byte[] body = Encoding.ASCII.GetBytes("hello world");
                var headers = new[]
                {
                    TransportAssert.H("Content-Type", "text/plain"), TransportAssert.H("X-Out", "1"), TransportAssert.H("X-Out", "2"),
                };
                r.Respond(201, "Made It", headers, body, 0, body.Length);
                Assert.That(r.Completed, Is.True);
                Assert.That(_conn.InFlight, Is.EqualTo(0));
                RawResponse resp = client.ReadResponse();
                Assert.That(resp.StatusLine, Is.EqualTo("HTTP/1.1 201 Made It"));
                Assert.That(resp.Text, Is.EqualTo("hello world"));
                Assert.That(resp.Header("Content-Type"), Is.EqualTo("text/plain"));
                Assert.That(resp.Headers.Where(h => h.Key == "X-Out").Select(h => h.Value), Is.EqualTo(new[] { "1", "2" }));
                Assert.Throws<InvalidOperationException>(() => r.Respond(200, null, null, null, 0, 0), "a second answer");
                Assert.Throws<ObjectDisposedException>(() => r.FieldValue(0).ToString(), "the view is gone once answered");
                Assert.That(r.Method, Is.EqualTo("GET"), "strings already read stay");

                // Keep-alive: the same connection serves a second request.
                client.Send(RawClient.Get("/second"));
                HostRequest r2 = NextOrFail();
                Assert.That(r2.ConnectionId, Is.EqualTo(r.ConnectionId));
                Assert.That(r2.RequestId, Is.Not.EqualTo(r.RequestId));
                Assert.That(r2.HasQuery, Is.False);
                Assert.That(r2.RawQuery, Is.EqualTo(""));
                TransportAssert.RespondText(r2, 200, "two");
                Assert.That(client.ReadResponse().Text, Is.EqualTo("two"));
            }
        }

        [Test]
        public void AbsoluteFormHeadHttp10AndEmptyQueryAreReported()
        {
            using (var client = new RawClient(_engine.Port))
            {
                client.Send("GET http://other.test:9/?  HTTP/1.1\r\nHost: h\r\n\r\n".Replace("?  ", "? "));
                HostRequest r = NextOrFail();
                Assert.That(r.Authority, Is.EqualTo("other.test:9"));
                Assert.That(r.RawPath, Is.EqualTo("/"));
                Assert.That(r.HasQuery, Is.True, "\"/?\" has an empty query");
                Assert.That(r.RawQuery, Is.EqualTo(""));
                TransportAssert.RespondText(r, 200, "x");
                client.ReadResponse();

                client.Send("HEAD /h HTTP/1.1\r\nHost: h\r\n\r\n");
                r = NextOrFail();
                Assert.That(r.IsHead, Is.True);
                Assert.That(r.Method, Is.EqualTo("HEAD"));
                TransportAssert.RespondText(r, 200, "not sent");
                RawResponse head = client.ReadResponse(headRequest: true);
                Assert.That(head.Status, Is.EqualTo(200));
            }
            using (var client = new RawClient(_engine.Port))
            {
                client.Send("GET /old HTTP/1.0\r\n\r\n");
                HostRequest r = NextOrFail();
                Assert.That(r.HttpMinor, Is.EqualTo(0));
                Assert.That(r.KeepAlive, Is.False);
                Assert.That(r.Host, Is.EqualTo(""));
                TransportAssert.RespondText(r, 200, "old");
                Assert.That(client.ReadResponse().Text, Is.EqualTo("old"));
            }
        }

        [Test]
        public void OtherMethodIsReadFromTheSpan()
        {
            using (var client = new RawClient(_engine.Port))
            {
                client.Send("BREW /pot HTTP/1.1\r\nHost: h\r\n\r\n");
                HostRequest r = _conn.Next(10000);
                if (r == null)
                {
                    RawResponse resp = client.ReadResponse();
                    Assert.Ignore("the engine does not forward unlisted methods (answered " + resp.Status + ")");
                }
                Assert.That(r.Method, Is.EqualTo("BREW"));
                Assert.That(r.MethodId, Is.EqualTo(255));
                TransportAssert.RespondText(r, 418, "teapot");
                Assert.That(client.ReadResponse().Status, Is.EqualTo(418));
            }
        }

        [Test]
        public void SmallPostBodyIsReadInline()
        {
            using (var client = new RawClient(_engine.Port))
            {
                client.Send("POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\nhello body!");
                HostRequest r = NextOrFail();
                Assert.That(r.Method, Is.EqualTo("POST"));
                Assert.That(r.ContentLength, Is.EqualTo(11));
                Assert.That(r.BodyStreamed, Is.False);
                var buf = new byte[4];
                var got = new List<byte>();
                int n;
                while ((n = r.ReadBody(buf, 0, buf.Length)) > 0)
                    got.AddRange(buf.Take(n));
                Assert.That(Encoding.ASCII.GetString(got.ToArray()), Is.EqualTo("hello body!"));
                Assert.That(r.ReadBody(buf, 0, 4), Is.EqualTo(0), "the end stays the end");
                TransportAssert.RespondText(r, 200, "got " + got.Count);
                Assert.That(client.ReadResponse().Text, Is.EqualTo("got 11"));
            }
        }

        [Test]
        public void ThousandRequestsOverSeveralConnections()
        {
            _loop = new ServeLoop(_conn, r => TransportAssert.RespondText(r, 200, "echo " + r.RawPath));
            const int connections = 4, each = 250;
            var failures = new ConcurrentQueue<string>();
            var tasks = Enumerable.Range(0, connections).Select(c => Task.Run(() =>
            {
                using (var client = new RawClient(_engine.Port))
                    for (int i = 0; i < each; i++)
                    {
                        string path = "/c" + c + "/r" + i;
                        RawResponse resp = client.Roundtrip(RawClient.Get(path));
                        if (resp.Status != 200 || resp.Text != "echo " + path)
                            failures.Enqueue(path + " -> " + resp.Status + " " + resp.Text);
                    }
            })).ToArray();
            Assert.That(Task.WaitAll(tasks, 60000), Is.True, "1,000 requests did not finish in 60 s");
            Assert.That(failures, Is.Empty);
            Assert.That(_loop.Served, Is.EqualTo(connections * each));
            Assert.That(_loop.HandlerFailure, Is.Null);
            Assert.That(TransportAssert.Eventually(() => _conn.InFlight == 0, 2000), Is.True);
            Assert.That(_conn.Counter(4), Is.EqualTo(0), "no invalid descriptors");
        }

        [Test]
        public void ConcurrentRequestsAnsweredOutOfOrderReachTheirClients()
        {
            const int n = 16;
            var clients = Enumerable.Range(0, n).Select(i => new RawClient(_engine.Port)).ToArray();
            try
            {
                for (int i = 0; i < n; i++)
                    clients[i].Send(RawClient.Get("/slow/" + i));
                var held = new List<HostRequest>();
                while (held.Count < n)
                    held.Add(NextOrFail());
                Assert.That(_conn.InFlight, Is.EqualTo(n));
                // Answer from several threads at once, in reverse order of arrival.
                var answers = held.AsEnumerable().Reverse()
                                  .Select(r => Task.Run(() => TransportAssert.RespondText(r, 200, "for " + r.RawPath))).ToArray();
                Assert.That(Task.WaitAll(answers, 10000), Is.True);
                for (int i = 0; i < n; i++)
                    Assert.That(clients[i].ReadResponse().Text, Is.EqualTo("for /slow/" + i));
            }
            finally
            {
                foreach (var c in clients)
                    c.Dispose();
            }
        }

        [Test]
        public void LargeWholeResponseTravelsInParts()
        {
            byte[] big = TransportAssert.Bytes(3 * 1024 * 1024 + 17, 7);
            _loop = new ServeLoop(_conn, r => r.Respond(200, null, TransportAssert.TextPlain, big, 0, big.Length));
            using (var client = new RawClient(_engine.Port))
                for (int i = 0; i < 3; i++)
                {
                    RawResponse resp = client.Roundtrip(RawClient.Get("/big"));
                    Assert.That(resp.Status, Is.EqualTo(200));
                    Assert.That(resp.Body.Length, Is.EqualTo(big.Length));
                    Assert.That(TransportAssert.Sha(resp.Body), Is.EqualTo(TransportAssert.Sha(big)));
                }
            Assert.That(TransportAssert.Eventually(() => _conn.ChunksLent == 0, 3000), Is.True, "the engine gives every chunk back");
        }

        [Test]
        public void InvalidResponseHeadersAreDroppedAndTheRestSent()
        {
            _loop = new ServeLoop(_conn, r =>
            {
                var headers = new[]
                {
                    TransportAssert.H("X-Good", "yes"),
                    TransportAssert.H("Bad Name", "dropped"),
                    TransportAssert.H("X-Split", "a\r\nInjected: 1"),
                    TransportAssert.H("X-Latin", "caf\u00e9"),
                };
                byte[] b = Encoding.ASCII.GetBytes("ok");
                r.Respond(200, "Fine\r\nInjected: 2", headers, b, 0, b.Length);
            });
            using (var client = new RawClient(_engine.Port))
            {
                RawResponse resp = client.Roundtrip(RawClient.Get("/h"));
                Assert.That(resp.StatusLine, Is.EqualTo("HTTP/1.1 200 OK"), "an unusable reason gives the standard phrase");
                Assert.That(resp.Header("X-Good"), Is.EqualTo("yes"));
                Assert.That(resp.Header("Injected"), Is.Null);
                Assert.That(resp.Header("Bad Name"), Is.Null);
                Assert.That(resp.Header("X-Split"), Is.Null);
                Assert.That(resp.Header("X-Latin"), Is.Not.Null);
                Assert.That(resp.Text, Is.EqualTo("ok"));
            }
        }

        [Test]
        public void AbortMakesTheEngineAnswer500()
        {
            _loop = new ServeLoop(_conn, r => r.Abort());
            using (var client = new RawClient(_engine.Port))
            {
                RawResponse resp = client.Roundtrip(RawClient.Get("/abort"));
                Assert.That(resp.Status, Is.EqualTo(500));
            }
            Assert.That(TransportAssert.Eventually(() => _conn.InFlight == 0, 2000), Is.True);
        }

        [Test]
        public void ClientDisconnectCancelsTheRequest()
        {
            HostRequest r;
            using (var client = new RawClient(_engine.Port))
            {
                client.Send(RawClient.Get("/long-poll"));
                r = NextOrFail();
                Assert.That(r.Cancelled, Is.False);
                var fired = new ManualResetEventSlim();
                r.CancellationToken.Register(() => fired.Set());
                client.Tcp.Client.Shutdown(System.Net.Sockets.SocketShutdown.Both);
                client.Tcp.Close();
                // Nobody calls Next now: the transport must still notice (the heartbeat sweeps ring 0).
                Assert.That(fired.Wait(5000), Is.True, "CancellationToken did not fire within 5 s of the disconnect");
                Assert.That(r.Cancelled, Is.True);
                Assert.That(r.CancellationToken.IsCancellationRequested, Is.True);
            }
            // Answering a cancelled request is harmless and still required.
            TransportAssert.RespondText(r, 200, "too late");
            Assert.That(_conn.InFlight, Is.EqualTo(0));
            using (var client = new RawClient(_engine.Port))
            {
                _loop = new ServeLoop(_conn, q => TransportAssert.RespondText(q, 200, "alive"));
                Assert.That(client.Roundtrip(RawClient.Get("/after")).Text, Is.EqualTo("alive"));
            }
        }

        [Test]
        public void DisposedConnectionMakesTheEngineAnswer503AndLetsAnotherHostIn()
        {
            _conn.Dispose();
            using (var client = new RawClient(_engine.Port))
            {
                // 503 once the engine saw the host leave; 502 if it routed the request to it just before.
                int status = client.Roundtrip(RawClient.Get("/nobody")).Status;
                Assert.That(status == 503 || status == 502, Is.True, "status " + status);
            }
            Assert.Throws<ObjectDisposedException>(() => _conn.Next(0));
            // The engine frees lane 0 once it notices the detach, which an idle
            // engine may do a little later (its receive loop parks up to 50 ms):
            // until then a newcomer lands on lane 1. Wait for lane 0 to come back.
            var deadline = DateTime.UtcNow.AddSeconds(10);
            _conn = _engine.Attach();
            while (_conn.Lane != 0 && DateTime.UtcNow < deadline)
            {
                _conn.Dispose();
                Thread.Sleep(10);
                _conn = _engine.Attach();
            }
            Assert.That(_conn.Lane, Is.EqualTo(0), "lane 0 was freed by the detach");
            _engine.WaitRouted(_conn);
            _loop = new ServeLoop(_conn, q => TransportAssert.RespondText(q, 200, "new host"));
            using (var client = new RawClient(_engine.Port))
                Assert.That(client.Roundtrip(RawClient.Get("/again")).Text, Is.EqualTo("new host"));
        }
    }
}
