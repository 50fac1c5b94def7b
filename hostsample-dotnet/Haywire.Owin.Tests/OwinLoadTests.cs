using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Threading;
using System.Threading.Tasks;

using NUnit.Framework;

namespace Haywire.Owin.Tests
{
    /// <summary>
    /// Concurrency and volume through the engine and an OwinHost in this process: a
    /// thousand slow requests at once, answers out of order, 100 MB each way.
    /// </summary>
    [TestFixture]
    public class OwinLoadTests
    {
        private OwinEngine _engine;
        private OwinHost _host;

        private const long HundredMegabytes = 100L * 1000 * 1000;

        [TestFixtureSetUp]
        public void Start()
        {
            _engine = new OwinEngine("--max-request-size", "200000000");
            _host = OwinHost.Attach(_engine.Region, App, new OwinHostOptions { TraceOutput = TextWriter.Null });
            OwinWait.UntilServed(_engine.Port, "/slow?ms=0");
        }

        [TestFixtureTearDown]
        public void Stop()
        {
            if (_host != null)
            {
                _host.Dispose();
            }
            if (_engine != null)
            {
                _engine.Dispose();
            }
        }

        private static async Task App(IDictionary<string, object> env)
        {
            string path = (string)env[OwinKeys.RequestPath];
            string query = (string)env[OwinKeys.RequestQueryString];
            var output = (Stream)env[OwinKeys.ResponseBody];
            byte[] text;
            switch (path)
            {
                case "/slow":
                    // ?ms=N: wait, then answer with the query, so answers can be matched to requests.
                    int ms = int.Parse(query.Substring(query.IndexOf("ms=", StringComparison.Ordinal) + 3).Split('&')[0], CultureInfo.InvariantCulture);
                    await Task.Delay(ms);
                    text = Encoding.ASCII.GetBytes(query);
                    await output.WriteAsync(text, 0, text.Length);
                    return;
                case "/upload":
                    // Hash what arrives; answer "count hash".
                    using (var sha = SHA256.Create())
                    {
                        var input = (Stream)env[OwinKeys.RequestBody];
                        var buffer = new byte[64 * 1024];
                        long total = 0;
                        int n;
                        while ((n = await input.ReadAsync(buffer, 0, buffer.Length)) > 0)
                        {
                            sha.TransformBlock(buffer, 0, n, null, 0);
                            total += n;
                        }
                        sha.TransformFinalBlock(buffer, 0, 0);
                        text = Encoding.ASCII.GetBytes(total + " " + BitConverter.ToString(sha.Hash));
                        await output.WriteAsync(text, 0, text.Length);
                    }
                    return;
                case "/download":
                    long length = long.Parse(query.Substring("bytes=".Length), CultureInfo.InvariantCulture);
                    var block = new byte[64 * 1024];
                    for (long sent = 0; sent < length;)
                    {
                        int count = (int)Math.Min(block.Length, length - sent);
                        for (int i = 0; i < count; i++)
                        {
                            block[i] = (byte)((sent + i) % 251);
                        }
                        await output.WriteAsync(block, 0, count);
                        sent += count;
                    }
                    return;
                default:
                    env[OwinKeys.ResponseStatusCode] = 404;
                    return;
            }
        }

        /// <summary>One GET on its own connection, fully asynchronous; returns the body text.</summary>
        private static async Task<string> GetAsync(int port, string target)
        {
            using (var tcp = new TcpClient())
            {
                tcp.NoDelay = true;
                await tcp.ConnectAsync(IPAddress.Loopback, port);
                NetworkStream stream = tcp.GetStream();
                byte[] request = Encoding.ASCII.GetBytes("GET " + target + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
                await stream.WriteAsync(request, 0, request.Length);
                var received = new MemoryStream();
                var buffer = new byte[4096];
                int n;
                while ((n = await stream.ReadAsync(buffer, 0, buffer.Length)) > 0)
                {
                    received.Write(buffer, 0, n);
                }
                string text = Encoding.ASCII.GetString(received.ToArray());
                if (!text.StartsWith("HTTP/1.1 200 ", StringComparison.Ordinal))
                {
                    throw new IOException("not a 200: " + text.Split('\n')[0]);
                }
                return text.Substring(text.IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4);
            }
        }

        [Test]
        public void AThousandConcurrentSlowRequestsAreServedAtOnce()
        {
            const int Count = 1000;
            const int DelayMs = 2000;
            var clock = Stopwatch.StartNew();
            Task<string>[] requests = Enumerable.Range(0, Count)
                .Select(i => GetAsync(_engine.Port, "/slow?ms=" + DelayMs + "&i=" + i)).ToArray();
            Assert.That(Task.WaitAll(requests, TimeSpan.FromSeconds(60)), "all answered within 60 s");
            clock.Stop();
            for (int i = 0; i < Count; i++)
            {
                Assert.AreEqual("ms=" + DelayMs + "&i=" + i, requests[i].Result);
            }
            // One at a time would take Count x 2 s; all at once takes a little over 2 s.
            Assert.That(clock.Elapsed, Is.LessThan(TimeSpan.FromSeconds(20)), "elapsed " + clock.Elapsed);
            Console.WriteLine("{0} requests of {1} ms each: {2:F1} s", Count, DelayMs, clock.Elapsed.TotalSeconds);
        }

        [Test]
        public void AnswersCompletingOutOfOrderReachTheirRequests()
        {
            // Request i waits (40 - i) x 25 ms: the last sent is answered first.
            Task<string>[] requests = Enumerable.Range(0, 40)
                .Select(i => GetAsync(_engine.Port, "/slow?ms=" + ((40 - i) * 25) + "&i=" + i)).ToArray();
            Assert.That(Task.WaitAll(requests, TimeSpan.FromSeconds(30)));
            for (int i = 0; i < 40; i++)
            {
                Assert.AreEqual("ms=" + ((40 - i) * 25) + "&i=" + i, requests[i].Result);
            }
            // Pipelined on one connection: the engine keeps them in request order.
            using (var client = new OwinHttpClient(_engine.Port))
            {
                var pipeline = new StringBuilder();
                for (int i = 0; i < 10; i++)
                {
                    pipeline.Append("GET /slow?ms=" + ((10 - i) * 30) + "&i=" + i + " HTTP/1.1\r\nHost: x\r\n\r\n");
                }
                client.Send(pipeline.ToString());
                for (int i = 0; i < 10; i++)
                {
                    Assert.AreEqual("ms=" + ((10 - i) * 30) + "&i=" + i, client.Read().BodyText);
                }
            }
        }

        [Test]
        public void HundredMegabytesUpload()
        {
            var clock = Stopwatch.StartNew();
            using (var client = new OwinHttpClient(_engine.Port, 120000))
            {
                client.Send("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: " + HundredMegabytes + "\r\n\r\n");
                var block = new byte[64 * 1024];
                for (long sent = 0; sent < HundredMegabytes;)
                {
                    int count = (int)Math.Min(block.Length, HundredMegabytes - sent);
                    for (int i = 0; i < count; i++)
                    {
                        block[i] = (byte)((sent + i) % 251);
                    }
                    client.Send(block, 0, count);
                    sent += count;
                }
                OwinResponse r = client.Read();
                Assert.AreEqual(200, r.Status);
                Assert.AreEqual(HundredMegabytes + " " + OwinChecksum.OfPattern(HundredMegabytes), r.BodyText);
            }
            Console.WriteLine("100 MB upload: {0:F1} s", clock.Elapsed.TotalSeconds);
        }

        [Test]
        public void HundredMegabytesDownload()
        {
            var clock = Stopwatch.StartNew();
            using (var client = new OwinHttpClient(_engine.Port, 120000))
            {
                client.Send("GET /download?bytes=" + HundredMegabytes + " HTTP/1.1\r\nHost: x\r\n\r\n");
                var sink = new OwinHashingSink();
                OwinResponse r = client.Read(sink: sink);
                Assert.AreEqual(200, r.Status);
                Assert.IsTrue(r.Chunked);
                Assert.AreEqual(HundredMegabytes, sink.Count);
                Assert.AreEqual(OwinChecksum.OfPattern(HundredMegabytes), sink.Hash());
            }
            // 144 s here until the engine flushes a streamed piece's release at once (see the report).
            Console.WriteLine("100 MB download: {0:F1} s", clock.Elapsed.TotalSeconds);
        }
    }
}
