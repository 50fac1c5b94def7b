using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using System.Threading;
using System.Threading.Tasks;

using NUnit.Framework;

using AppFunc = System.Func<System.Collections.Generic.IDictionary<string, object>, System.Threading.Tasks.Task>;

namespace Haywire.Owin.Tests
{
    /// <summary>
    /// The OWIN rules of <see cref="OwinCall"/> and its streams over a <see cref="MemoryExchange"/>:
    /// no engine, no region, no process. The end-to-end twins are in OwinSpecTests.
    /// </summary>
    [TestFixture]
    public class OwinCallTests
    {
        private StringWriter _trace;

        [SetUp]
        public void SetUp()
        {
            _trace = new StringWriter();
        }

        private MemoryExchange Run(MemoryExchange exchange, AppFunc app, string pathBase = "")
        {
            var server = new ServerContext(pathBase, TextWriter.Synchronized(_trace), null, CancellationToken.None);
            server.App = app;
            var ended = new ManualResetEventSlim();
            var call = new OwinCall(server, exchange, c => ended.Set());
            call.Start();
            Assert.IsTrue(ended.Wait(5000), "the call did not end");
            return exchange;
        }

        private MemoryExchange Get(AppFunc app)
        {
            return Run(new MemoryExchange("GET", "/x"), app);
        }

        private static Stream Body(IDictionary<string, object> env)
        {
            return (Stream)env[OwinKeys.ResponseBody];
        }

        private static void Write(IDictionary<string, object> env, string text)
        {
            byte[] bytes = Encoding.UTF8.GetBytes(text);
            Body(env).Write(bytes, 0, bytes.Length);
        }

        private static IDictionary<string, string[]> ResponseHeaders(IDictionary<string, object> env)
        {
            return (IDictionary<string, string[]>)env[OwinKeys.ResponseHeaders];
        }

        [Test]
        public void ASmallResponseGoesWholeWithItsLength()
        {
            var x = Get(env =>
            {
                Write(env, "hello");
                return Task.FromResult(0);
            });
            CollectionAssert.AreEqual(new[] { "Respond 200" }, x.Calls);
            Assert.AreEqual("hello", x.BodyText);
        }

        [Test]
        public void FewerBytesThanContentLengthAnswer500()
        {
            var x = Get(env =>
            {
                ResponseHeaders(env)["Content-Length"] = new[] { "10" };
                Write(env, "abc");
                return Task.FromResult(0);
            });
            Assert.AreEqual(500, x.Status);
            Assert.AreEqual(0, x.Body.Length);
        }

        [Test]
        public void MoreBytesThanContentLengthAfterStreamingAbort()
        {
            var x = Get(env =>
            {
                ResponseHeaders(env)["Content-Length"] = new[] { "4" };
                Write(env, "ab");
                Body(env).Flush();
                Assert.Throws<IOException>(() => Write(env, "cde"));
                return Task.FromResult(0);
            });
            Assert.IsTrue(x.Aborted);
            Assert.AreEqual("StartResponse 200 4", x.Calls[0]);
        }

        [Test]
        public void HeadCountsTheBodyButSendsNothing()
        {
            var x = Run(new MemoryExchange("HEAD", "/x"), env =>
            {
                Write(env, "twelve bytes");
                return Task.FromResult(0);
            });
            CollectionAssert.AreEqual(new[] { "StartResponse 200 12", "EndResponse" }, x.Calls);
            Assert.AreEqual(0, x.Body.Length);
        }

        [Test]
        public void AReasonPhraseWithCrLfAnswers500()
        {
            var x = Get(env =>
            {
                env[OwinKeys.ResponseReasonPhrase] = "OK\r\nX-Injected: 1";
                return Task.FromResult(0);
            });
            Assert.AreEqual(500, x.Status);
            Assert.IsNull(x.Header("X-Injected"));
        }

        [Test]
        public void AValidReasonPhraseAndStatusGoOut()
        {
            var x = Get(env =>
            {
                env[OwinKeys.ResponseStatusCode] = 201;
                env[OwinKeys.ResponseReasonPhrase] = "Made";
                return Task.FromResult(0);
            });
            Assert.AreEqual(201, x.Status);
            Assert.AreEqual("Made", x.Reason);
        }

        [Test]
        public void TheApplicationsServerAndDateHeadersGoAsSet()
        {
            var x = Get(env =>
            {
                ResponseHeaders(env)["Server"] = new[] { "mine" };
                ResponseHeaders(env)["Date"] = new[] { "Thu, 01 Jan 1970 00:00:00 GMT" };
                return Task.FromResult(0);
            });
            Assert.AreEqual("mine", x.Header("Server"));
            Assert.AreEqual("Thu, 01 Jan 1970 00:00:00 GMT", x.Header("Date"));
        }

        [Test]
        public void HeadersAreReadOnlyAfterTheFirstWrite()
        {
            Exception seen = null;
            Get(env =>
            {
                Write(env, "a");
                try
                {
                    ResponseHeaders(env)["X-Late"] = new[] { "1" };
                }
                catch (Exception e)
                {
                    seen = e;
                }
                return Task.FromResult(0);
            });
            Assert.IsInstanceOf<InvalidOperationException>(seen);
        }

        [Test]
        public void OnSendingHeadersCallbacksRunLastRegisteredFirst()
        {
            var order = new List<int>();
            var x = Get(env =>
            {
                var register = (Action<Action<object>, object>)env[OwinKeys.OnSendingHeaders];
                register(s => order.Add(1), null);
                register(s => { order.Add(2); ResponseHeaders(env)["X-Cb"] = new[] { "2" }; }, null);
                Write(env, "a");
                return Task.FromResult(0);
            });
            CollectionAssert.AreEqual(new[] { 2, 1 }, order);
            Assert.AreEqual("2", x.Header("X-Cb"));
        }

        [Test]
        public void AnExceptionBeforeTheFirstWriteAnswers500()
        {
            var x = Get(env =>
            {
                ResponseHeaders(env)["X-Lost"] = new[] { "1" };
                throw new InvalidOperationException("boom");
            });
            Assert.AreEqual(500, x.Status);
            Assert.IsNull(x.Header("X-Lost"));
            StringAssert.Contains("boom", _trace.ToString());
        }

        [Test]
        public void AnExceptionAfterTheHeadWentOutAborts()
        {
            var x = Get(env =>
            {
                Write(env, "a");
                Body(env).Flush();
                var failed = new TaskCompletionSource<int>();
                failed.SetException(new InvalidOperationException("late"));
                return failed.Task;
            });
            Assert.IsTrue(x.Aborted);
            Assert.AreEqual(200, x.Status);
        }

        [Test]
        public void FlushSendsTheHeadAndTheBufferedBytes()
        {
            var x = Get(env =>
            {
                Write(env, "abc");
                Body(env).Flush();
                return Task.FromResult(0);
            });
            CollectionAssert.AreEqual(new[] { "StartResponse 200 -1", "WriteBody 3", "Flush", "EndResponse" }, x.Calls);
        }

        [Test]
        public void SendFileSendsTheRangeAsked()
        {
            string path = Path.GetTempFileName();
            try
            {
                File.WriteAllText(path, "0123456789");
                var x = Get(env =>
                {
                    var send = (Func<string, long, long?, CancellationToken, Task>)env[OwinKeys.SendFileAsync];
                    return send(path, 2, 5, CancellationToken.None);
                });
                Assert.AreEqual("23456", x.BodyText);
            }
            finally
            {
                File.Delete(path);
            }
        }

        [Test]
        public void CallCancelledFiresWhenTheClientLeaves()
        {
            var exchange = new MemoryExchange("GET", "/x");
            var fired = new ManualResetEventSlim();
            Run(exchange, env =>
            {
                var token = (CancellationToken)env[OwinKeys.CallCancelled];
                token.Register(() => fired.Set());
                exchange.ClientLeaves();
                return Task.FromResult(0);
            });
            Assert.IsTrue(fired.Wait(5000));
        }

        [Test]
        public void RequestKeysFollowOwin()
        {
            var exchange = new MemoryExchange("POST", "/base/a%20b?q=1&r=2")
                .Field("Accept", "text/plain")
                .Field("accept", "text/html")
                .Field("Host", "example.org")
                .WithBody("payload");
            IDictionary<string, object> seen = null;
            string body = null;
            string[] accept = null, host = null;
            Run(exchange, env =>
            {
                seen = new Dictionary<string, object>(env);
                // Read while the call runs: the header dictionary fills from the request view on first use.
                var headers = (IDictionary<string, string[]>)env[OwinKeys.RequestHeaders];
                accept = headers["ACCEPT"];
                host = headers["host"];
                body = new StreamReader((Stream)env[OwinKeys.RequestBody]).ReadToEnd();
                return Task.FromResult(0);
            }, "/base");
            Assert.AreEqual("POST", seen[OwinKeys.RequestMethod]);
            Assert.AreEqual("/base", seen[OwinKeys.RequestPathBase]);
            Assert.AreEqual("/a b", seen[OwinKeys.RequestPath]);
            Assert.AreEqual("q=1&r=2", seen[OwinKeys.RequestQueryString]);
            Assert.AreEqual("HTTP/1.1", seen[OwinKeys.RequestProtocol]);
            Assert.AreEqual("http", seen[OwinKeys.RequestScheme]);
            Assert.AreEqual("1.0", seen[OwinKeys.Version]);
            Assert.AreEqual("10.1.2.3", seen[OwinKeys.RemoteIpAddress]);
            Assert.AreEqual("8080", seen[OwinKeys.LocalPort]);
            Assert.AreEqual("7", seen[OwinKeys.RequestId]);
            CollectionAssert.AreEqual(new[] { "text/plain", "text/html" }, accept);
            Assert.AreEqual("example.org", host[0]);
            Assert.AreEqual("payload", body);
        }

        [Test]
        public void APathOutsideThePathBaseAnswers404()
        {
            var x = Run(new MemoryExchange("GET", "/elsewhere"), env => Task.FromResult(0), "/base");
            Assert.AreEqual(404, x.Status);
        }

        [Test]
        public void TheRequestBodyCannotBeReadAfterTheResponse()
        {
            Stream body = null;
            Run(new MemoryExchange("POST", "/x").WithBody("abc"), env =>
            {
                body = (Stream)env[OwinKeys.RequestBody];
                return Task.FromResult(0);
            });
            Assert.IsFalse(body.CanSeek);
            Assert.Throws<ObjectDisposedException>(() => body.Read(new byte[4], 0, 4));
        }

        [Test]
        public void SyncAndAsyncWritesSendTheSameCalls()
        {
            var big = new byte[ResponseBodyStream.BufferLimit + 100];
            var small = new byte[100];
            var sync = Get(env =>
            {
                Body(env).Write(small, 0, small.Length);
                Body(env).Write(big, 0, big.Length);
                Body(env).Write(small, 0, small.Length);
                return Task.FromResult(0);
            });
            var async = Get(async env =>
            {
                await Body(env).WriteAsync(small, 0, small.Length);
                await Body(env).WriteAsync(big, 0, big.Length);
                await Body(env).WriteAsync(small, 0, small.Length);
            });
            CollectionAssert.AreEqual(new[] { "StartResponse 200 -1", "WriteBody 100", "WriteBody " + big.Length, "WriteBody 100", "EndResponse" },
                sync.Calls);
            CollectionAssert.AreEqual(sync.Calls, async.Calls);
            Assert.AreEqual(big.Length + 200, async.Body.Length);
        }

        [Test]
        public void AWriteTheClientLeftFailsWithIOExceptionAndCancelsTheCall()
        {
            var exchange = new MemoryExchange("GET", "/x");
            Exception seen = null;
            bool cancelled = false;
            Run(exchange, env =>
            {
                var token = (CancellationToken)env[OwinKeys.CallCancelled];
                Body(env).Flush();
                exchange.ClientLeaves();
                try
                {
                    Write(env, new string('x', ResponseBodyStream.BufferLimit + 1));
                }
                catch (Exception e)
                {
                    seen = e;
                }
                cancelled = token.IsCancellationRequested;
                return Task.FromResult(0);
            });
            Assert.IsInstanceOf<IOException>(seen);
            Assert.IsTrue(cancelled);
        }
    }
}
