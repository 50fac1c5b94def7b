using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using System.Threading;
using Haywire.Owin.Transport;
using NUnit.Framework;

namespace Haywire.Owin.Tests
{
    /// <summary>
    /// A real engine for the transport tests: $HAYWIRE_BUILD_DIR/haywire on 127.0.0.1, an ephemeral port and a
    /// region directory of its own (removed on Dispose, with anything a killed engine left in it).
    /// </summary>
    internal sealed class TransportEngine : IDisposable
    {
        public readonly Process Process;
        public readonly string Region;
        public readonly int Port;
        public readonly string RegionDir;
        private readonly StringBuilder _stderr = new StringBuilder();

        public static string BuildDir
        {
            get
            {
                string d = Environment.GetEnvironmentVariable("HAYWIRE_BUILD_DIR");
                if (!string.IsNullOrEmpty(d))
                    return d;
                // The test assembly sits in $(repo)/build/dotnet.
                string here = Path.GetDirectoryName(typeof(TransportEngine).Assembly.Location);
                return Path.GetFullPath(Path.Combine(here, ".."));
            }
        }

        public TransportEngine(params string[] extraArgs)
        {
            string exe = Path.Combine(BuildDir, "haywire");
            if (!File.Exists(exe))
                Assert.Ignore("no engine launcher at " + exe + " (run ./build.sh first, or set HAYWIRE_BUILD_DIR)");
            RegionDir = Path.Combine(Path.GetTempPath(), "hwt-" + Guid.NewGuid().ToString("N").Substring(0, 12));
            Directory.CreateDirectory(RegionDir);
            var args = new StringBuilder("--address 127.0.0.1 --port 0 --region-dir " + RegionDir);
            foreach (string a in extraArgs)
                args.Append(' ').Append(a);
            var psi = new ProcessStartInfo(exe, args.ToString())
            {
                UseShellExecute = false,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            Process = Process.Start(psi);
            Process.ErrorDataReceived += (s, e) => { if (e.Data != null) lock (_stderr) _stderr.AppendLine(e.Data); };
            Process.BeginErrorReadLine();
            string region = null;
            int port = 0;
            var lines = new Thread(() =>
            {
                string line;
                while ((line = Process.StandardOutput.ReadLine()) != null)
                {
                    if (line.StartsWith("region: ", StringComparison.Ordinal))
                        region = line.Substring(8).Trim();
                    else if (line.StartsWith("listening: ", StringComparison.Ordinal))
                    {
                        string addr = line.Substring(11).Trim();
                        port = int.Parse(addr.Substring(addr.LastIndexOf(':') + 1));
                        break;
                    }
                }
            }) { IsBackground = true };
            lines.Start();
            if (!lines.Join(15000) || region == null || port == 0)
            {
                Dispose();
                Assert.Fail("the engine did not print its region and address; stderr: " + Stderr);
            }
            Region = region;
            Port = port;
            // Keep draining stdout so the engine never blocks on a full pipe.
            new Thread(() => { try { Process.StandardOutput.ReadToEnd(); } catch (Exception) { } }) { IsBackground = true }.Start();
        }

        public string Stderr { get { lock (_stderr) return _stderr.ToString(); } }

        public HostConnection Attach(int timeoutMs = 3000)
        {
            return HostConnection.Attach(Region, RegionDir, TimeSpan.FromMilliseconds(timeoutMs));
        }

        /// <summary>
        /// Attaches, then waits until the engine routes requests to this host: it notices a new host at its next
        /// liveness tick and answers 503 until then. Probes with GET /__ready, answered here.
        /// </summary>
        public HostConnection AttachReady(int timeoutMs = 3000)
        {
            HostConnection c = Attach(timeoutMs);
            WaitRouted(c);
            return c;
        }

        /// <summary>Waits until a probe request reaches c (answering it), so later requests go to c.</summary>
        public void WaitRouted(HostConnection c)
        {
            var sw = Stopwatch.StartNew();
            using (var client = new RawClient(Port))
                while (sw.ElapsedMilliseconds < 10000)
                {
                    client.Send(RawClient.Get("/__ready"));
                    HostRequest r = c.Next(300);
                    if (r != null)
                    {
                        r.Respond(204, null, null, null, 0, 0);
                        client.ReadResponse();
                        return;
                    }
                    client.ReadResponse(); // the engine's 503, or a response from the host being replaced
                }
            Assert.Fail("the engine did not route requests to the new host within 10 s; stderr: " + Stderr);
        }

        [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
        private static extern int Kill(int pid, int signal);

        /// <summary>kill -9: no goodbye, no cleanup.</summary>
        public void KillHard()
        {
            Kill(Process.Id, 9);
            Process.WaitForExit(5000);
        }

        /// <summary>SIGTERM: the engine stops gracefully (waits for requests in flight) and removes its regions.</summary>
        public bool Terminate(int waitMs)
        {
            if (Process.HasExited)
                return true;
            Kill(Process.Id, 15);
            return Process.WaitForExit(waitMs);
        }

        public void Dispose()
        {
            try
            {
                if (!Process.HasExited && !Terminate(3000))
                    KillHard();
            }
            catch (InvalidOperationException)
            {
            }
            Process.Dispose();
            try
            {
                Directory.Delete(RegionDir, true);
            }
            catch (IOException)
            {
            }
        }
    }

    /// <summary>A response as a raw HTTP/1.1 client read it.</summary>
    internal sealed class RawResponse
    {
        public int Status;
        public string StatusLine;
        public readonly List<KeyValuePair<string, string>> Headers = new List<KeyValuePair<string, string>>();
        public byte[] Body;
        public bool Chunked;

        public string Header(string name)
        {
            foreach (var h in Headers)
                if (string.Equals(h.Key, name, StringComparison.OrdinalIgnoreCase))
                    return h.Value;
            return null;
        }

        public string Text { get { return Encoding.UTF8.GetString(Body); } }
    }

    /// <summary>
    /// A raw HTTP/1.1 client over one TCP connection: writes exactly the bytes given, reads responses by
    /// Content-Length, chunked coding, or to the end of the connection.
    /// </summary>
    internal sealed class RawClient : IDisposable
    {
        public readonly TcpClient Tcp;
        public readonly NetworkStream Stream;
        private readonly byte[] _buf = new byte[65536];
        private int _start, _end;

        public RawClient(int port)
        {
            Tcp = new TcpClient();
            Tcp.NoDelay = true;
            Tcp.Connect("127.0.0.1", port);
            Tcp.ReceiveTimeout = 20000;
            Stream = Tcp.GetStream();
        }

        public int LocalPort { get { return ((System.Net.IPEndPoint)Tcp.Client.LocalEndPoint).Port; } }

        public void Send(string ascii)
        {
            Send(Encoding.ASCII.GetBytes(ascii));
        }

        public void Send(byte[] bytes)
        {
            Stream.Write(bytes, 0, bytes.Length);
        }

        public static string Get(string target, string extraHeaders = "")
        {
            return "GET " + target + " HTTP/1.1\r\nHost: test.local\r\n" + extraHeaders + "\r\n";
        }

        private bool Fill()
        {
            if (_start > 0 && _start == _end)
                _start = _end = 0;
            if (_end == _buf.Length)
            {
                Buffer.BlockCopy(_buf, _start, _buf, 0, _end - _start);
                _end -= _start;
                _start = 0;
            }
            int n = Stream.Read(_buf, _end, _buf.Length - _end);
            if (n <= 0)
                return false;
            _end += n;
            return true;
        }

        public string ReadLine()
        {
            var sb = new StringBuilder();
            while (true)
            {
                for (int i = _start; i < _end; i++)
                {
                    if (_buf[i] == '\n')
                    {
                        sb.Append(Encoding.ASCII.GetString(_buf, _start, i - _start));
                        _start = i + 1;
                        string s = sb.ToString();
                        return s.EndsWith("\r", StringComparison.Ordinal) ? s.Substring(0, s.Length - 1) : s;
                    }
                }
                sb.Append(Encoding.ASCII.GetString(_buf, _start, _end - _start));
                _start = _end;
                if (!Fill())
                    return sb.Length > 0 ? sb.ToString() : null;
            }
        }

        private void ReadExactly(Stream into, long n)
        {
            while (n > 0)
            {
                if (_start == _end && !Fill())
                    throw new EndOfStreamException(n + " body bytes missing");
                int k = (int)Math.Min(n, _end - _start);
                into.Write(_buf, _start, k);
                _start += k;
                n -= k;
            }
        }

        /// <summary>Reads one response; a 1xx interim response is returned like any other.</summary>
        public RawResponse ReadResponse(bool headRequest = false)
        {
            var r = new RawResponse();
            r.StatusLine = ReadLine();
            if (r.StatusLine == null)
                throw new EndOfStreamException("the connection closed before a response");
            string[] parts = r.StatusLine.Split(' ');
            r.Status = int.Parse(parts[1]);
            string line;
            while (!string.IsNullOrEmpty(line = ReadLine()))
            {
                int colon = line.IndexOf(':');
                r.Headers.Add(new KeyValuePair<string, string>(line.Substring(0, colon), line.Substring(colon + 1).Trim()));
            }
            var body = new MemoryStream();
            string te = r.Header("Transfer-Encoding"), cl = r.Header("Content-Length");
            if (headRequest || r.Status < 200 || r.Status == 204 || r.Status == 304)
            {
            }
            else if (te != null && te.IndexOf("chunked", StringComparison.OrdinalIgnoreCase) >= 0)
            {
                r.Chunked = true;
                while (true)
                {
                    string size = ReadLine();
                    int semi = size.IndexOf(';');
                    long n = Convert.ToInt64(semi >= 0 ? size.Substring(0, semi) : size, 16);
                    if (n == 0)
                    {
                        while (!string.IsNullOrEmpty(ReadLine()))
                        {
                        }
                        break;
                    }
                    ReadExactly(body, n);
                    ReadLine();
                }
            }
            else if (cl != null)
            {
                ReadExactly(body, long.Parse(cl));
            }
            else
            {
                // Delimited by the end of the connection.
                body.Write(_buf, _start, _end - _start);
                _start = _end;
                int n;
                while ((n = Stream.Read(_buf, 0, _buf.Length)) > 0)
                    body.Write(_buf, 0, n);
            }
            r.Body = body.ToArray();
            return r;
        }

        public RawResponse Roundtrip(string request)
        {
            Send(request);
            return ReadResponse();
        }

        public void Dispose()
        {
            Tcp.Close();
        }
    }

    /// <summary>
    /// Serves a HostConnection on a thread of its own: each request goes to handler on the thread pool (or inline).
    /// Records how the loop ended (DrainedException, HaywireException) and any handler failure.
    /// </summary>
    internal sealed class ServeLoop : IDisposable
    {
        private readonly HostConnection _conn;
        private readonly Action<HostRequest> _handler;
        private readonly bool _inline;
        private readonly Thread _thread;
        private volatile bool _stop;
        public Exception Ended;
        public Exception HandlerFailure;
        public int Served;

        public ServeLoop(HostConnection conn, Action<HostRequest> handler, bool inline = false)
        {
            _conn = conn;
            _handler = handler;
            _inline = inline;
            _thread = new Thread(Run) { IsBackground = true, Name = "test serve loop" };
            _thread.Start();
        }

        private void Run()
        {
            try
            {
                while (!_stop)
                {
                    HostRequest r = _conn.Next(50);
                    if (r == null)
                        continue;
                    Interlocked.Increment(ref Served);
                    if (_inline)
                        Handle(r);
                    else
                        ThreadPool.QueueUserWorkItem(_ => Handle(r));
                }
            }
            catch (Exception e)
            {
                Ended = e;
            }
        }

        private void Handle(HostRequest r)
        {
            try
            {
                _handler(r);
            }
            catch (Exception e)
            {
                HandlerFailure = e;
                try
                {
                    r.Abort();
                }
                catch (Exception)
                {
                }
            }
        }

        /// <summary>Waits until the loop ends by itself (drained, engine gone).</summary>
        public bool WaitEnded(int ms)
        {
            return _thread.Join(ms);
        }

        public void Dispose()
        {
            _stop = true;
            _thread.Join(5000);
        }
    }

    internal static class TransportAssert
    {
        public static byte[] Bytes(int n, int seed)
        {
            var b = new byte[n];
            new Random(seed).NextBytes(b);
            return b;
        }

        public static string Sha(byte[] b, int offset = 0, int count = -1)
        {
            using (var sha = System.Security.Cryptography.SHA256.Create())
                return Convert.ToBase64String(sha.ComputeHash(b, offset, count < 0 ? b.Length - offset : count));
        }

        public static KeyValuePair<string, string> H(string name, string value)
        {
            return new KeyValuePair<string, string>(name, value);
        }

        public static readonly KeyValuePair<string, string>[] TextPlain = { H("Content-Type", "text/plain") };

        public static void RespondText(HostRequest r, int status, string text)
        {
            byte[] b = Encoding.UTF8.GetBytes(text);
            r.Respond(status, null, TextPlain, b, 0, b.Length);
        }

        /// <summary>Polls cond until it holds or ms pass.</summary>
        public static bool Eventually(Func<bool> cond, int ms)
        {
            var sw = Stopwatch.StartNew();
            while (sw.ElapsedMilliseconds < ms)
            {
                if (cond())
                    return true;
                Thread.Sleep(5);
            }
            return cond();
        }

        /// <summary>True when a TCP connection to 127.0.0.1:port is accepted (or at least not refused).</summary>
        public static bool Accepts(int port)
        {
            try
            {
                using (var tcp = new TcpClient())
                {
                    tcp.Connect("127.0.0.1", port);
                    return true;
                }
            }
            catch (SocketException e)
            {
                return e.SocketErrorCode != SocketError.ConnectionRefused;
            }
        }

        /// <summary>Reads a request body to its end with ReadBody in pieces of the given size.</summary>
        public static byte[] ReadAll(HostRequest r, int piece = 8192)
        {
            var ms = new MemoryStream();
            var buf = new byte[piece];
            int n;
            while ((n = r.ReadBody(buf, 0, buf.Length)) > 0)
                ms.Write(buf, 0, n);
            return ms.ToArray();
        }
    }
}
