using System;
using System.IO;
using System.Linq;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using Haywire.Owin.Transport;
using NUnit.Framework;

namespace Haywire.Owin.Tests
{
    /// <summary>
    /// Streamed bodies (haywire_bridge.h section 1): responses with StartResponse/WriteBody/EndResponse, request
    /// bodies that arrive as BODY pieces, 100-continue, and clients that leave halfway.
    /// </summary>
    [TestFixture]
    public class TransportStreamingTests
    {
        private TransportEngine _engine;
        private HostConnection _conn;
        private ServeLoop _loop;

        [SetUp]
        public void SetUp()
        {
            // 64 KiB chunks: a stream's window of 8 is 512 KiB. (The engine publishes the releases of a streamed
            // response's pieces late, so with 4 KiB chunks a stream crawls; see the transport's notes.)
            _engine = new TransportEngine("--max-request-size 64000000", "--chunk-size 65536", "--chunks 128");
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

        private static void StreamBody(HostRequest r, byte[] body, long contentLength, int piece)
        {
            r.StartResponse(200, null, TransportAssert.TextPlain, contentLength);
            Assert.That(r.ResponseStarted, Is.True);
            for (int off = 0; off < body.Length; off += piece)
                r.WriteBody(body, off, Math.Min(piece, body.Length - off));
            r.EndResponse();
        }

        [Test]
        public void StreamedResponseWithoutLengthIsSentChunked()
        {
            byte[] body = TransportAssert.Bytes(2 * 1024 * 1024 + 3, 1);
            _loop = new ServeLoop(_conn, r => StreamBody(r, body, -1, 10000));
            using (var client = new RawClient(_engine.Port))
            {
                RawResponse resp = client.Roundtrip(RawClient.Get("/stream"));
                Assert.That(resp.Status, Is.EqualTo(200));
                Assert.That(resp.Chunked, Is.True, "no Content-Length announced: chunked to an HTTP/1.1 client");
                Assert.That(TransportAssert.Sha(resp.Body), Is.EqualTo(TransportAssert.Sha(body)));
                // The connection stays usable.
                resp = client.Roundtrip(RawClient.Get("/stream"));
                Assert.That(resp.Body.Length, Is.EqualTo(body.Length));
            }
            Assert.That(_loop.HandlerFailure, Is.Null);
            Assert.That(TransportAssert.Eventually(() => _conn.ChunksLent == 0, 3000), Is.True, "every chunk comes back");
        }

        [Test]
        public void StreamedResponseWithContentLengthIsSentAsIs()
        {
            byte[] body = TransportAssert.Bytes(3 * 1024 * 1024, 2);
            _loop = new ServeLoop(_conn, r => StreamBody(r, body, body.Length, 65536));
            using (var client = new RawClient(_engine.Port))
            {
                RawResponse resp = client.Roundtrip(RawClient.Get("/cl"));
                Assert.That(resp.Chunked, Is.False);
                Assert.That(resp.Header("Content-Length"), Is.EqualTo(body.Length.ToString()));
                Assert.That(TransportAssert.Sha(resp.Body), Is.EqualTo(TransportAssert.Sha(body)));
            }
            Assert.That(_loop.HandlerFailure, Is.Null);
        }

        [Test]
        public void FlushRingsTheEngineWhereThePumpWouldDeferIt()
        {
            // OwinHost's pump thread publishes without a doorbell while requests wait ready (one wake per
            // batch). A flush means "send what was written now": it rings at once.
            _conn.DeferWakesOnNextThread = true;
            using (var a = new RawClient(_engine.Port))
            using (var b = new RawClient(_engine.Port))
            {
                a.Send(RawClient.Get("/a"));
                HostRequest ra = NextOrFail();
                b.Send(RawClient.Get("/b"));
                Assert.That(TransportAssert.Eventually(() =>
                {
                    if (_conn.TryAcquirePump())
                    {
                        try
                        {
                            _conn.Pump();
                        }
                        finally
                        {
                            _conn.ReleasePump();
                        }
                    }
                    return _conn.ReadyCount() == 1;
                }, 10000), Is.True, "the second request waits ready behind the first");
                ra.StartResponse(200, null, TransportAssert.TextPlain, -1); // deferred: this thread has more to answer
                ra.Flush();
                Assert.That(_conn.WakeOwed, Is.False, "no doorbell owed after a flush");
                Assert.That(a.ReadLine(), Is.EqualTo("HTTP/1.1 200 OK"), "the head reaches the client before any body");
                while (!string.IsNullOrEmpty(a.ReadLine()))
                {
                }
                ra.WriteBody(Encoding.ASCII.GetBytes("abc"), 0, 3);
                ra.EndResponse();
                Assert.That(a.ReadLine(), Is.EqualTo("3"));
                HostRequest rb = NextOrFail();
                TransportAssert.RespondText(rb, 200, "b");
                Assert.That(b.ReadResponse().Text, Is.EqualTo("b"));
            }
        }

        [Test]
        public void StreamedResponseRefusesMoreThanItsContentLength()
        {
            Exception failure = null;
            _loop = new ServeLoop(_conn, r =>
            {
                r.StartResponse(200, null, null, 4);
                r.WriteBody(Encoding.ASCII.GetBytes("abc"), 0, 3);
                try
                {
                    r.WriteBody(Encoding.ASCII.GetBytes("de"), 0, 2);
                }
                catch (Exception e)
                {
                    failure = e;
                }
                r.WriteBody(Encoding.ASCII.GetBytes("d"), 0, 1);
                r.EndResponse();
            });
            using (var client = new RawClient(_engine.Port))
                Assert.That(client.Roundtrip(RawClient.Get("/cl4")).Text, Is.EqualTo("abcd"));
            Assert.That(failure, Is.InstanceOf<InvalidOperationException>());
        }

        [Test]
        public void SlowClientMakesWriteBodyWait()
        {
            // The engine releases a piece's chunk only once its bytes went to the client, and a stream holds at
            // most 8 chunks: a client that reads nothing stops the writer once the socket buffers are full.
            byte[] body = TransportAssert.Bytes(32 * 1024 * 1024, 3);
            long written = 0;
            var done = new ManualResetEventSlim();
            var writer = new TaskCompletionSource<HostRequest>();
            _loop = new ServeLoop(_conn, r =>
            {
                writer.SetResult(r);
                r.StartResponse(200, null, TransportAssert.TextPlain, body.Length);
                for (int off = 0; off < body.Length; off += 65536)
                {
                    r.WriteBody(body, off, Math.Min(65536, body.Length - off));
                    Interlocked.Exchange(ref written, off + 65536);
                }
                r.EndResponse();
                done.Set();
            });
            using (var client = new RawClient(_engine.Port))
            {
                client.Send(RawClient.Get("/slow"));
                Assert.That(writer.Task.Wait(10000), Is.True, "the request reached the host");
                HostRequest r = writer.Task.Result;
                // Held: the writer found no room three times in a row (each wait lasts until a release or a
                // heartbeat) without writing a byte in between.
                long seen = -1;
                int stallsThen = 0;
                Assert.That(TransportAssert.Eventually(() =>
                {
                    long w = Interlocked.Read(ref written);
                    if (w != seen)
                    {
                        seen = w;
                        stallsThen = r.WriteStalls;
                        return false;
                    }
                    return r.WriteStalls - stallsThen >= 3;
                }, 20000), Is.True, "the writer is held while the client reads nothing");
                Assert.That(seen, Is.LessThan(body.Length / 2));
                Assert.That(done.IsSet, Is.False);
                RawResponse resp = client.ReadResponse();
                Assert.That(TransportAssert.Sha(resp.Body), Is.EqualTo(TransportAssert.Sha(body)));
            }
            Assert.That(done.Wait(5000), Is.True);
            Assert.That(_loop.HandlerFailure, Is.Null);
        }

        [Test]
        public void LargePostBodyStreamsInWithFlowControl()
        {
            byte[] body = TransportAssert.Bytes(8 * 1024 * 1024 + 5, 4);
            string streamed = null;
            bool heldAhead = false;
            _loop = new ServeLoop(_conn, r =>
            {
                streamed = r.BodyStreamed + " " + r.ContentLength;
                // Read slowly at first: the engine must hold the client back, not buffer 8 MiB.
                var first = new byte[1000];
                int n = r.ReadBody(first, 0, first.Length);
                // Read nothing more until the engine has sent pieces ahead (8: well within its window of a
                // quarter of the 128-chunk arena), so the window fills and the client is held back.
                heldAhead = TransportAssert.Eventually(() => r.HeldPieces >= 8, 10000);
                byte[] rest = TransportAssert.ReadAll(r, 50000);
                var all = new byte[n + rest.Length];
                Buffer.BlockCopy(first, 0, all, 0, n);
                Buffer.BlockCopy(rest, 0, all, n, rest.Length);
                TransportAssert.RespondText(r, 200, all.Length + " " + TransportAssert.Sha(all));
            });
            using (var client = new RawClient(_engine.Port))
            {
                client.Send("POST /upload HTTP/1.1\r\nHost: h\r\nContent-Length: " + body.Length + "\r\n\r\n");
                var send = Task.Run(() => client.Send(body));
                RawResponse resp = client.ReadResponse();
                Assert.That(send.Wait(10000), Is.True);
                Assert.That(resp.Text, Is.EqualTo(body.Length + " " + TransportAssert.Sha(body)));
            }
            Assert.That(streamed, Is.EqualTo("True " + body.Length));
            Assert.That(heldAhead, Is.True, "the engine sent pieces ahead of the reader");
            Assert.That(_loop.HandlerFailure, Is.Null);
        }

        [Test]
        public void ChunkedPostBodyIsReadDechunked()
        {
            byte[] body = TransportAssert.Bytes(300000, 5);
            string flags = null;
            _loop = new ServeLoop(_conn, r =>
            {
                flags = r.Chunked + " " + r.ContentLength;
                byte[] all = TransportAssert.ReadAll(r, 7777);
                TransportAssert.RespondText(r, 200, all.Length + " " + TransportAssert.Sha(all));
            });
            using (var client = new RawClient(_engine.Port))
            {
                client.Send("POST /chunked HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n");
                for (int off = 0; off < body.Length; off += 70000)
                {
                    int n = Math.Min(70000, body.Length - off);
                    client.Send(n.ToString("x") + "\r\n");
                    client.Stream.Write(body, off, n);
                    client.Send("\r\n");
                }
                client.Send("0\r\n\r\n");
                Assert.That(client.ReadResponse().Text, Is.EqualTo(body.Length + " " + TransportAssert.Sha(body)));
            }
            Assert.That(flags, Is.EqualTo("True -1"));
        }

        [Test]
        public void ExpectContinueSendsTheBodyOnlyWhenTheHostReads()
        {
            using (var client = new RawClient(_engine.Port))
            {
                client.Send("POST /ask HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
                HostRequest r = NextOrFail();
                Assert.That(r.ExpectContinue, Is.True);
                Assert.That(r.BodyStreamed, Is.True);
                var read = Task.Run(() => Encoding.ASCII.GetString(TransportAssert.ReadAll(r)));
                RawResponse interim = client.ReadResponse();
                Assert.That(interim.Status, Is.EqualTo(100), "the first ReadBody asks for the body: 100 Continue");
                client.Send("hello");
                Assert.That(read.Wait(10000), Is.True);
                Assert.That(read.Result, Is.EqualTo("hello"));
                TransportAssert.RespondText(r, 200, "thanks");
                Assert.That(client.ReadResponse().Text, Is.EqualTo("thanks"));
            }
        }

        [Test]
        public void ClientLeavingMidBodyFailsTheRead()
        {
            using (var client = new RawClient(_engine.Port))
            {
                client.Send("POST /partial HTTP/1.1\r\nHost: h\r\nContent-Length: 1000000\r\n\r\n");
                client.Send(new byte[100000]);
                HostRequest r = NextOrFail();
                Assert.That(r.BodyStreamed, Is.True);
                var read = Task.Run(() => TransportAssert.ReadAll(r));
                Assert.That(TransportAssert.Eventually(() => r.BodyWaits > 0, 10000), Is.True, "the reader waits for more body");
                client.Tcp.Client.Shutdown(System.Net.Sockets.SocketShutdown.Both);
                client.Tcp.Close();
                var ex = Assert.Throws<AggregateException>(() => read.Wait(10000));
                Assert.That(ex.InnerException, Is.InstanceOf<IOException>());
                Assert.That(r.Cancelled, Is.True);
                TransportAssert.RespondText(r, 200, "nobody listens");
            }
            Assert.That(TransportAssert.Eventually(() => _conn.InFlight == 0, 2000), Is.True);
        }

        [Test]
        public void AnsweringBeforeReadingTheBodyGivesItsPiecesBack()
        {
            byte[] body = TransportAssert.Bytes(2 * 1024 * 1024, 6);
            _loop = new ServeLoop(_conn, r => TransportAssert.RespondText(r, 413, "no thanks"));
            using (var client = new RawClient(_engine.Port))
            {
                client.Send("POST /unwanted HTTP/1.1\r\nHost: h\r\nContent-Length: " + body.Length + "\r\n\r\n");
                Task.Run(() => { try { client.Send(body); } catch (IOException) { } });
                Assert.That(client.ReadResponse().Status, Is.EqualTo(413));
            }
            using (var client = new RawClient(_engine.Port))
                Assert.That(client.Roundtrip(RawClient.Get("/next")).Status, Is.EqualTo(413), "the host still serves");
        }

        [Test]
        public void AsyncBodyReadAndWriteComplete()
        {
            byte[] body = TransportAssert.Bytes(1024 * 1024, 8);
            _loop = new ServeLoop(_conn, r =>
            {
                var ms = new MemoryStream();
                var buf = new byte[30000];
                int n;
                while ((n = r.ReadBodyAsync(buf, 0, buf.Length, CancellationToken.None).Result) > 0)
                    ms.Write(buf, 0, n);
                byte[] got = ms.ToArray();
                r.StartResponse(200, null, null, got.Length);
                for (int off = 0; off < got.Length; off += 100000)
                    r.WriteBodyAsync(got, off, Math.Min(100000, got.Length - off), CancellationToken.None).Wait();
                r.EndResponse();
            });
            using (var client = new RawClient(_engine.Port))
            {
                client.Send("POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: " + body.Length + "\r\n\r\n");
                var send = Task.Run(() => client.Send(body));
                RawResponse resp = client.ReadResponse();
                Assert.That(send.Wait(10000), Is.True);
                Assert.That(TransportAssert.Sha(resp.Body), Is.EqualTo(TransportAssert.Sha(body)));
            }
            Assert.That(_loop.HandlerFailure, Is.Null);
        }
    
        [Test]
        public void WaitingForABodyThatDoesNotComeSleeps()
        {
            using (var client = new RawClient(_engine.Port))
            {
                client.Send("POST /trickle HTTP/1.1\r\nHost: h\r\nContent-Length: 1000000\r\n\r\n");
                client.Send(new byte[200000]);
                HostRequest r = NextOrFail();
                // Nobody calls Next: the reader takes the pump itself and must sleep on the doorbell, not spin.
                var read = Task.Run(() => TransportAssert.ReadAll(r));
                Assert.That(TransportAssert.Eventually(() => r.BodyWaits > 0, 10000), Is.True, "the reader waits for the rest");
                TimeSpan cpu0 = System.Diagnostics.Process.GetCurrentProcess().TotalProcessorTime;
                // A measurement window, not an ordering: the read must not end, and must not spin, meanwhile.
                Assert.That(read.Wait(1500), Is.False, "the read waits for the rest of the body");
                TimeSpan cpu = System.Diagnostics.Process.GetCurrentProcess().TotalProcessorTime - cpu0;
                Assert.That(cpu.TotalMilliseconds, Is.LessThan(500), "CPU used while waiting 1.5 s for a body");
                client.Send(new byte[800000]);
                Assert.That(read.Wait(10000), Is.True);
                Assert.That(read.Result.Length, Is.EqualTo(1000000));
                TransportAssert.RespondText(r, 200, "ok");
                Assert.That(client.ReadResponse().Text, Is.EqualTo("ok"));
            }
        }

        [Test]
        public void DisposeWakesAThreadBlockedInNext()
        {
            long idle = _conn.NextIdleRounds;
            var next = Task.Run(() => _conn.Next(-1));
            Assert.That(TransportAssert.Eventually(() => _conn.NextIdleRounds > idle, 10000), Is.True, "Next waits");
            _conn.Dispose();
            var ex = Assert.Throws<AggregateException>(() => next.Wait(5000));
            Assert.That(ex.InnerException, Is.InstanceOf<ObjectDisposedException>());
        }
    }
}
