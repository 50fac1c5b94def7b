using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using System.Threading;
using System.Threading.Tasks;

using NUnit.Framework;

namespace Haywire.Owin.Tests
{
    /// <summary>
    /// The programs as processes: Sample.exe and Haywire.Host.exe attached to a real
    /// engine, killed with -9, swapped under load, and the engine loaded in-process.
    /// </summary>
    [TestFixture]
    public class OwinProcessTests
    {
        private readonly List<IDisposable> _cleanup = new List<IDisposable>();
        private string _tempDir;

        [SetUp]
        public void SetUp()
        {
            _tempDir = Path.Combine(Path.GetTempPath(), "haywire-owin-tests-" + Guid.NewGuid().ToString("N"));
            Directory.CreateDirectory(_tempDir);
        }

        [TearDown]
        public void TearDown()
        {
            // Hosts first, then engines: the reverse of creation.
            for (int i = _cleanup.Count - 1; i >= 0; i--)
            {
                _cleanup[i].Dispose();
            }
            _cleanup.Clear();
            try
            {
                Directory.Delete(_tempDir, true);
            }
            catch (Exception)
            {
                // Best effort.
            }
        }

        private T Track<T>(T disposable) where T : IDisposable
        {
            _cleanup.Add(disposable);
            return disposable;
        }

        private static string Exe(string name)
        {
            return Path.Combine(OwinPaths.DotnetDir, name);
        }

        private OwinChildProcess StartMono(string exe, string arguments, IDictionary<string, string> environment = null)
        {
            return Track(new OwinChildProcess(OwinPaths.Mono, "--debug " + Exe(exe) + " " + arguments, environment));
        }

        private OwinChildProcess StartSample(OwinEngine engine, string extra = "")
        {
            OwinChildProcess sample = StartMono("Sample.exe", "--region " + engine.Region + " " + extra);
            sample.WaitForLine("serving: ", TimeSpan.FromSeconds(30));
            if (extra.Length == 0)
            {
                OwinWait.UntilServed(engine.Port);
            }
            return sample;
        }

        // ---- The sample ------------------------------------------------------------------

        [Test]
        public void SampleServesHelloEchoDownloadAndMap()
        {
            OwinEngine engine = Track(new OwinEngine());
            StartSample(engine);
            using (var client = new OwinHttpClient(engine.Port))
            {
                OwinResponse hello = client.Get("/");
                Assert.AreEqual(200, hello.Status);
                Assert.AreEqual("Hello, World!", hello.BodyText);
                Assert.AreEqual("Haywire.Owin sample", hello.Header("X-Powered-By"), "the middleware ran");

                var upload = new byte[300 * 1000];
                new Random(5).NextBytes(upload);
                OwinResponse echo = client.Post("/echo", upload, "Content-Type: application/x-test\r\n");
                Assert.AreEqual(OwinChecksum.Of(upload), OwinChecksum.Of(echo.Body));
                Assert.AreEqual("application/x-test", echo.Header("Content-Type"));

                OwinResponse download = client.Get("/download?bytes=200000");
                Assert.AreEqual(OwinChecksum.OfPattern(200000), OwinChecksum.Of(download.Body));

                OwinResponse api = client.Get("/api/users/7");
                Assert.AreEqual("{\"pathBase\":\"/api\",\"path\":\"/users/7\"}", api.BodyText);

                Assert.AreEqual(404, client.Get("/nothing-here").Status);
                StringAssert.Contains("owin.RequestPath: System.String = /env", client.Get("/env").BodyText);
            }
        }

        [Test]
        public void SampleHelpAndBadArguments()
        {
            OwinChildProcess help = StartMono("Sample.exe", "--help");
            Assert.That(help.WaitForExit(TimeSpan.FromSeconds(30)));
            Assert.AreEqual(0, help.Process.ExitCode);

            OwinChildProcess bad = StartMono("Sample.exe", "--port 80");
            Assert.That(bad.WaitForExit(TimeSpan.FromSeconds(30)));
            Assert.AreEqual(2, bad.Process.ExitCode);
            StringAssert.Contains("--launch", bad.Stderr);
        }

        [Test]
        public void SampleLaunchModeStartsAndStopsItsEngine()
        {
            OwinChildProcess sample = StartMono("Sample.exe", "--launch --port 0");
            string serving = sample.WaitForLine("serving: ", TimeSpan.FromSeconds(30));
            string address = serving.Substring(serving.IndexOf("listening ", StringComparison.Ordinal) + "listening ".Length);
            int port = int.Parse(address.Substring(address.LastIndexOf(':') + 1), CultureInfo.InvariantCulture);
            List<int> children = sample.Children();
            Assert.AreEqual(1, children.Count, "the sample runs one engine");
            OwinWait.UntilServed(port);
            Assert.AreEqual("Hello, World!", OwinHttpClient.GetOnce(port, "/").BodyText);

            sample.Signal(OwinNative.SIGTERM);
            Assert.That(sample.WaitForExit(TimeSpan.FromSeconds(30)), "SIGTERM stops the sample");
            Assert.AreEqual(0, sample.Process.ExitCode, sample.Stderr);
            Assert.That(OwinWait.Until(() => !OwinNative.Alive(children[0]), TimeSpan.FromSeconds(10)), "the engine it launched stopped too");
        }

        // ---- Failure and recovery ----------------------------------------------------------

        [Test]
        public void KillNineOfTheHostGives502ThenARestartedHostServes()
        {
            OwinEngine engine = Track(new OwinEngine("--host-timeout-ms", "500"));
            OwinChildProcess sample = StartSample(engine);
            Assert.AreEqual(200, OwinHttpClient.GetOnce(engine.Port, "/").Status);

            // A request in flight when the host dies: the engine answers it 502.
            using (var client = new OwinHttpClient(engine.Port, 20000))
            {
                // The 100 Continue says the application holds the request: it asked for the body, which never comes.
                client.Send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\nExpect: 100-continue\r\n\r\n");
                Assert.AreEqual(100, client.ReadHead().Status, "the host reads the body");
                sample.Signal(OwinNative.SIGKILL);
                Assert.That(sample.WaitForExit(TimeSpan.FromSeconds(10)));
                OwinResponse inFlight = client.Read();
                Assert.AreEqual(502, inFlight.Status, "a request in flight at kill -9");
            }
            OwinResponse after = OwinHttpClient.GetOnce(engine.Port, "/");
            Assert.That(after.Status == 502 || after.Status == 503, "no host: 502/503, got " + after.Status);

            StartSample(engine); // waits until the engine routes to it
            Assert.AreEqual("Hello, World!", OwinHttpClient.GetOnce(engine.Port, "/").BodyText, "a restarted host serves");
        }

        [Test]
        public void SigtermUnderLoadLeavesWithoutFailingARequest()
        {
            // SIGTERM: the host leaves (the engine routes nothing more to it and drains it), answers what
            // it has and exits; the requests meanwhile wait in the engine for the next host.
            OwinEngine engine = Track(new OwinEngine());
            OwinChildProcess first = StartSample(engine);
            var load = new HelloLoad(engine.Port, 30000);

            Assert.That(OwinWait.Until(() => load.Ok >= 100, TimeSpan.FromSeconds(30)), "load runs first");
            first.Signal(OwinNative.SIGTERM);
            Assert.That(first.WaitForExit(TimeSpan.FromSeconds(30)), "the host leaves and exits on SIGTERM");
            Assert.AreEqual(0, first.Process.ExitCode, first.Stderr);
            int atExit = load.Ok;
            OwinChildProcess second = StartSample(engine);
            Assert.That(OwinWait.Until(() => load.Ok >= atExit + 100, TimeSpan.FromSeconds(30)), "the next host answers");
            load.Stop();
            Assert.IsFalse(second.Process.HasExited, "the next host serves on");
            Assert.AreEqual(0, load.Failed, "failed requests: " + load.FirstErrors(5));
        }

        [Test]
        public void HotSwapUnderLoadFailsNoRequest()
        {
            OwinEngine engine = Track(new OwinEngine());
            OwinChildProcess first = StartSample(engine);
            var load = new HelloLoad(engine.Port, 20000);

            Assert.That(OwinWait.Until(() => load.Ok >= 100, TimeSpan.FromSeconds(30)), "load runs before the swap");
            int beforeSwap = load.Ok;
            OwinChildProcess second = StartSample(engine, "--swap");
            Assert.That(first.WaitForExit(TimeSpan.FromSeconds(30)), "the old host drains and exits");
            Assert.AreEqual(0, first.Process.ExitCode, first.Stderr);
            StringAssert.Contains("a newer host took over", first.Stderr);
            int atExit = load.Ok;
            Assert.That(OwinWait.Until(() => load.Ok >= atExit + 100, TimeSpan.FromSeconds(30)), "the new host answers");
            load.Stop();
            Console.WriteLine("hot swap: {0} answered before the swap, {1} when the old host exited, {2} in all, {3} failed",
                beforeSwap, atExit, load.Ok, load.Failed);
            Assert.IsFalse(second.Process.HasExited, "the new host serves on");
            Assert.That(beforeSwap, Is.GreaterThan(0), "load ran before the swap");
            Assert.That(load.Ok, Is.GreaterThan(atExit), "the new host answered after the old one left");
            Assert.AreEqual(0, load.Failed, "failed requests: " + load.FirstErrors(5));
        }

        // ---- The generic host --------------------------------------------------------------

        /// <summary>Compiles source into PATH.dll against Haywire.Owin.dll with mcs.</summary>
        private string CompileApp(string name, string source)
        {
            string file = Path.Combine(_tempDir, name + ".cs");
            string dll = Path.Combine(_tempDir, name + ".dll");
            File.WriteAllText(file, source);
            using (var mcs = new OwinChildProcess("mcs", "-nologo -target:library -out:" + dll + " -r:" + Exe("Haywire.Owin.dll") + " " + file))
            {
                Assert.That(mcs.WaitForExit(TimeSpan.FromSeconds(60)), "mcs finished");
                Assert.AreEqual(0, mcs.Process.ExitCode, "mcs failed: " + mcs.Stderr);
            }
            return dll;
        }

        private const string AppUsings =
            "using System; using System.Collections.Generic; using System.IO; using System.Text; using System.Threading.Tasks; using Haywire.Owin;\n";

        private static string Respond(string text)
        {
            return "{ var b = Encoding.ASCII.GetBytes(\"" + text + "\"); return ((Stream)env[\"owin.ResponseBody\"]).WriteAsync(b, 0, b.Length); }";
        }

        [Test]
        public void HostLoadsEachStartupShape()
        {
            string builderApp = CompileApp("BuilderApp", AppUsings +
                "namespace BuilderApp { public class Startup { public void Configuration(AppBuilder app) { app.Run(env => " + Respond("builder") + "); } } }");
            string propertiesApp = CompileApp("PropertiesApp", AppUsings +
                "namespace PropertiesApp { public class Startup { public Func<IDictionary<string, object>, Task> Configuration(IDictionary<string, object> properties) {" +
                " if ((string)properties[\"owin.Version\"] != \"1.0\") throw new Exception(\"no version\"); return env => " + Respond("properties") + "; } } }");
            string invokeApp = CompileApp("InvokeApp", AppUsings +
                "namespace Elsewhere { public static class Entry { public static Task Invoke(IDictionary<string, object> env) " + Respond("invoke") + " } }");

            foreach (var shape in new[] { Tuple.Create(builderApp, "", "builder"), Tuple.Create(propertiesApp, "", "properties"),
                Tuple.Create(invokeApp, "--startup Elsewhere.Entry", "invoke") })
            {
                using (var engine = new OwinEngine())
                using (var host = new OwinChildProcess(OwinPaths.Mono, Exe("Haywire.Host.exe") + " --app " + shape.Item1 + " " + shape.Item2 + " --region " + engine.Region))
                {
                    host.WaitForLine("serving: ", TimeSpan.FromSeconds(30));
                    OwinWait.UntilServed(engine.Port);
                    Assert.AreEqual(shape.Item3, OwinHttpClient.GetOnce(engine.Port, "/").BodyText);
                }
            }
        }

        [Test]
        public void HostExplainsAMissingAssemblyOrEntry()
        {
            string noStartup = CompileApp("NoStartup", AppUsings + "namespace NoStartup { public class Program { } }");
            string twoStartups = CompileApp("TwoStartups", AppUsings +
                "namespace A { public class Startup { public void Configuration(AppBuilder app) { } } }\n" +
                "namespace B { public class Startup { public void Configuration(AppBuilder app) { } } }");
            string wrongShape = CompileApp("WrongShape", AppUsings +
                "namespace WrongShape { public class Startup { public void Configuration(string nope) { } } }");
            var cases = new[]
            {
                Tuple.Create("--app " + Path.Combine(_tempDir, "missing.dll"), "does not exist"),
                Tuple.Create("--app " + noStartup, "no public class named Startup"),
                Tuple.Create("--app " + twoStartups, "several Startup classes"),
                Tuple.Create("--app " + noStartup + " --startup NoStartup.Nope", "no public type NoStartup.Nope"),
                Tuple.Create("--app " + wrongShape, "has no entry"),
            };
            foreach (var c in cases)
            {
                OwinChildProcess host = StartMono("Haywire.Host.exe", c.Item1 + " --region haywire-00000000-0000-0000-0000-000000000000");
                Assert.That(host.WaitForExit(TimeSpan.FromSeconds(30)), c.Item1);
                Assert.AreEqual(3, host.Process.ExitCode, c.Item1 + ": " + host.Stderr);
                StringAssert.Contains(c.Item2, host.Stderr, c.Item1);
            }
            OwinChildProcess noApp = StartMono("Haywire.Host.exe", "--region x");
            Assert.That(noApp.WaitForExit(TimeSpan.FromSeconds(30)));
            Assert.AreEqual(2, noApp.Process.ExitCode);
            StringAssert.Contains("--app PATH.dll is required", noApp.Stderr);
        }

        [Test]
        public void HostServesTheSampleAssemblyItself()
        {
            OwinEngine engine = Track(new OwinEngine());
            OwinChildProcess host = StartMono("Haywire.Host.exe", "--app " + Exe("Sample.exe") + " --region " + engine.Region);
            host.WaitForLine("serving: ", TimeSpan.FromSeconds(30));
            OwinWait.UntilServed(engine.Port);
            OwinResponse r = OwinHttpClient.GetOnce(engine.Port, "/api/x");
            Assert.AreEqual("{\"pathBase\":\"/api\",\"path\":\"/x\"}", r.BodyText);
        }

        // ---- In-process engine -------------------------------------------------------------

        [Test]
        public void StartInProcessServesEndToEndAndExitsCleanly()
        {
            var environment = new Dictionary<string, string> { { "LD_LIBRARY_PATH", OwinPaths.BuildDir } };
            OwinChildProcess sample = StartMono("Sample.exe", "--in-process --port 0", environment);
            string serving = sample.WaitForLine("serving: ", TimeSpan.FromSeconds(30));
            // Port 0: the engine picked one, and hw_listen_address told the host which.
            StringAssert.Contains(", listening ", serving);
            string address = serving.Substring(serving.IndexOf("listening ", StringComparison.Ordinal) + "listening ".Length);
            int port = int.Parse(address.Substring(address.LastIndexOf(':') + 1), CultureInfo.InvariantCulture);
            Assert.That(port, Is.GreaterThan(0), serving);
            Assert.AreEqual(0, sample.Children().Count, "no launcher: the engine runs inside the mono process");
            OwinWait.UntilServed(port);
            using (var client = new OwinHttpClient(port))
            {
                Assert.AreEqual("Hello, World!", client.Get("/").BodyText);
                var upload = Encoding.ASCII.GetBytes(new string('x', 100000));
                Assert.AreEqual(100000, client.Post("/echo", upload).Body.Length);
            }
            OwinAssert.RequestSizeLimitIs30000000(port, "/echo"); // as Launch's, not libhaywire's 1 MiB
            sample.Signal(OwinNative.SIGTERM);
            Assert.That(sample.WaitForExit(TimeSpan.FromSeconds(30)), "Mono with the Go library loaded exits on SIGTERM");
            Assert.AreEqual(0, sample.Process.ExitCode, sample.Stderr);
        }
    }

    /// <summary>Four clients asking for "/" of the sample in a loop, counting the right answers and the rest.</summary>
    internal sealed class HelloLoad
    {
        private readonly ManualResetEventSlim _stop = new ManualResetEventSlim(false);
        private readonly List<string> _errors = new List<string>();
        private readonly Task[] _clients;
        private int _ok, _failed;

        public HelloLoad(int port, int timeoutMs)
        {
            _clients = Enumerable.Range(0, 4).Select(n => Task.Factory.StartNew(() => Run(port, timeoutMs),
                TaskCreationOptions.LongRunning)).ToArray();
        }

        public int Ok { get { return Volatile.Read(ref _ok); } }
        public int Failed { get { return Volatile.Read(ref _failed); } }

        public string FirstErrors(int n)
        {
            lock (_errors)
            {
                return string.Join("; ", _errors.Take(n));
            }
        }

        /// <summary>Stops the clients and waits for them (up to 60 s).</summary>
        public void Stop()
        {
            _stop.Set();
            Task.WaitAll(_clients, TimeSpan.FromSeconds(60));
        }

        private void Fail(string why)
        {
            Interlocked.Increment(ref _failed);
            lock (_errors)
            {
                _errors.Add(why);
            }
        }

        private void Run(int port, int timeoutMs)
        {
            while (!_stop.IsSet)
            {
                try
                {
                    using (var client = new OwinHttpClient(port, timeoutMs))
                    {
                        for (int i = 0; i < 20 && !_stop.IsSet; i++)
                        {
                            OwinResponse r = client.Get("/");
                            if (r.Status == 200 && r.BodyText == "Hello, World!")
                                Interlocked.Increment(ref _ok);
                            else
                                Fail(r.ToString());
                        }
                    }
                }
                catch (Exception e)
                {
                    Fail(e.Message);
                }
            }
        }
    }
}
