using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using System.Threading;
using System.Threading.Tasks;

using NUnit.Framework;

namespace Haywire.Owin.Tests
{
    /// <summary>Where the build outputs are: $HAYWIRE_BUILD_DIR (default: the repository's build/).</summary>
    internal static class OwinPaths
    {
        public static string BuildDir
        {
            get
            {
                string dir = Environment.GetEnvironmentVariable("HAYWIRE_BUILD_DIR");
                if (!string.IsNullOrEmpty(dir))
                {
                    return dir;
                }
                // build/dotnet/Haywire.Owin.Tests.dll → build/
                return Path.GetFullPath(Path.Combine(DotnetDir, ".."));
            }
        }

        public static string DotnetDir
        {
            get { return Path.GetDirectoryName(typeof(OwinPaths).Assembly.Location); }
        }

        public static string Engine
        {
            get { return Path.Combine(BuildDir, "haywire"); }
        }

        public static string Mono
        {
            get
            {
                foreach (string candidate in new[] { "/usr/bin/mono", "/usr/local/bin/mono" })
                {
                    if (File.Exists(candidate))
                    {
                        return candidate;
                    }
                }
                return "mono";
            }
        }
    }

    /// <summary>A process the tests started, with its output collected; killed on Dispose.</summary>
    internal sealed class OwinChildProcess : IDisposable
    {
        private readonly BlockingCollection<string> _lines = new BlockingCollection<string>();
        private readonly StringBuilder _stderr = new StringBuilder();
        public readonly Process Process;
        public readonly string Description;

        public OwinChildProcess(string file, string arguments, IDictionary<string, string> environment = null)
        {
            Description = file + " " + arguments;
            var info = new ProcessStartInfo(file, arguments)
            {
                UseShellExecute = false,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                CreateNoWindow = true,
            };
            info.EnvironmentVariables["HAYWIRE_BUILD_DIR"] = OwinPaths.BuildDir;
            if (environment != null)
            {
                foreach (var pair in environment)
                {
                    info.EnvironmentVariables[pair.Key] = pair.Value;
                }
            }
            Process = new Process { StartInfo = info };
            Process.OutputDataReceived += (s, e) =>
            {
                if (e.Data != null)
                {
                    _lines.Add(e.Data);
                }
            };
            Process.ErrorDataReceived += (s, e) =>
            {
                if (e.Data != null)
                {
                    lock (_stderr)
                    {
                        _stderr.AppendLine(e.Data);
                    }
                }
            };
            Process.Start();
            Process.BeginOutputReadLine();
            Process.BeginErrorReadLine();
        }

        public int Pid
        {
            get { return Process.Id; }
        }

        public string Stderr
        {
            get
            {
                lock (_stderr)
                {
                    return _stderr.ToString();
                }
            }
        }

        /// <summary>The first stdout line starting with prefix, without it; fails the test after timeout.</summary>
        public string WaitForLine(string prefix, TimeSpan timeout)
        {
            DateTime deadline = DateTime.UtcNow + timeout;
            while (true)
            {
                TimeSpan left = deadline - DateTime.UtcNow;
                string line = null;
                if (left <= TimeSpan.Zero || !_lines.TryTake(out line, left))
                {
                    Assert.Fail("{0}: no \"{1}\" line within {2} s (exited: {3}); stderr:\n{4}", Description, prefix,
                        timeout.TotalSeconds, Process.HasExited ? Process.ExitCode.ToString() : "no", Stderr);
                }
                if (line.StartsWith(prefix, StringComparison.Ordinal))
                {
                    return line.Substring(prefix.Length).Trim();
                }
            }
        }

        public bool WaitForExit(TimeSpan timeout)
        {
            if (!Process.WaitForExit((int)timeout.TotalMilliseconds))
            {
                return false;
            }
            Process.WaitForExit(); // flush the output events
            return true;
        }

        /// <summary>The pids of this process's children (read from /proc).</summary>
        public List<int> Children()
        {
            var children = new List<int>();
            foreach (string dir in Directory.GetDirectories("/proc"))
            {
                int pid;
                if (!int.TryParse(Path.GetFileName(dir), out pid))
                {
                    continue;
                }
                try
                {
                    string stat = File.ReadAllText(Path.Combine(dir, "stat"));
                    string[] fields = stat.Substring(stat.LastIndexOf(')') + 2).Split(' ');
                    if (int.Parse(fields[1], CultureInfo.InvariantCulture) == Pid)
                    {
                        children.Add(pid);
                    }
                }
                catch (Exception)
                {
                    // Gone meanwhile.
                }
            }
            return children;
        }

        public void Signal(int signal)
        {
            OwinNative.kill(Pid, signal);
        }

        public void Dispose()
        {
            try
            {
                if (!Process.HasExited)
                {
                    List<int> children = Children();
                    Signal(OwinNative.SIGKILL);
                    foreach (int child in children)
                    {
                        OwinNative.kill(child, OwinNative.SIGKILL);
                    }
                    Process.WaitForExit(5000);
                }
            }
            catch (Exception)
            {
                // Already gone.
            }
            Process.Dispose();
        }
    }

    internal static class OwinNative
    {
        public const int SIGINT = 2;
        public const int SIGKILL = 9;
        public const int SIGTERM = 15;

        [DllImport("libc", SetLastError = true)]
        public static extern int kill(int pid, int signal);

        public static bool Alive(int pid)
        {
            return Directory.Exists("/proc/" + pid) && !File.ReadAllText("/proc/" + pid + "/stat").Contains(") Z ");
        }
    }

    /// <summary>An engine launcher (build/haywire --port 0) for a test: its region and port.</summary>
    internal sealed class OwinEngine : IDisposable
    {
        public readonly OwinChildProcess Process;
        public readonly string Region;
        public readonly int Port;

        public OwinEngine(params string[] extraArguments)
        {
            Assert.That(File.Exists(OwinPaths.Engine), "the engine launcher " + OwinPaths.Engine + " is missing: run ./build.sh");
            Process = new OwinChildProcess(OwinPaths.Engine, "--port 0 " + string.Join(" ", extraArguments));
            Region = Process.WaitForLine("region: ", TimeSpan.FromSeconds(15));
            string listening = Process.WaitForLine("listening: ", TimeSpan.FromSeconds(15));
            Port = int.Parse(listening.Substring(listening.LastIndexOf(':') + 1), CultureInfo.InvariantCulture);
        }

        public void Dispose()
        {
            if (!Process.Process.HasExited)
            {
                Process.Signal(OwinNative.SIGTERM);
                Process.WaitForExit(TimeSpan.FromSeconds(15));
            }
            Process.Dispose();
        }
    }

    /// <summary>One HTTP response as read off the socket, byte for byte.</summary>
    internal sealed class OwinResponse
    {
        public int Status;
        public string Reason;
        public string Version;
        public List<KeyValuePair<string, string>> Headers = new List<KeyValuePair<string, string>>();
        public byte[] Body = new byte[0];
        public bool Chunked;

        public string BodyText
        {
            get { return Encoding.UTF8.GetString(Body); }
        }

        /// <summary>The first value of a header, or null.</summary>
        public string Header(string name)
        {
            foreach (var pair in Headers)
            {
                if (string.Equals(pair.Key, name, StringComparison.OrdinalIgnoreCase))
                {
                    return pair.Value;
                }
            }
            return null;
        }

        public List<string> HeaderValues(string name)
        {
            return Headers.Where(p => string.Equals(p.Key, name, StringComparison.OrdinalIgnoreCase)).Select(p => p.Value).ToList();
        }

        public override string ToString()
        {
            return Status + " " + Reason + " (" + Body.Length + " bytes)";
        }
    }

    /// <summary>
    /// A raw HTTP/1.1 client over one TCP connection: the tests write requests byte for byte
    /// (chunked bodies, Expect, absolute-form targets, HTTP/1.0 without Host) and read
    /// responses strictly: Content-Length, chunked or until close. A response cut short
    /// throws IOException — that is how an aborted response shows.
    /// </summary>
    internal sealed class OwinHttpClient : IDisposable
    {
        private readonly TcpClient _tcp;
        private readonly Stream _stream;
        private readonly byte[] _buffer = new byte[64 * 1024];
        private int _start, _end;

        public OwinHttpClient(int port, int timeoutMs = 30000)
        {
            _tcp = new TcpClient();
            _tcp.NoDelay = true;
            _tcp.Connect(IPAddress.Loopback, port);
            _tcp.ReceiveTimeout = timeoutMs;
            _tcp.SendTimeout = timeoutMs;
            _stream = _tcp.GetStream();
        }

        public Socket Socket
        {
            get { return _tcp.Client; }
        }

        public void Send(string text)
        {
            Send(Encoding.ASCII.GetBytes(text));
        }

        public void Send(byte[] bytes)
        {
            _stream.Write(bytes, 0, bytes.Length);
        }

        public void Send(byte[] bytes, int offset, int count)
        {
            _stream.Write(bytes, offset, count);
        }

        /// <summary>GET path with Host; returns the response.</summary>
        public OwinResponse Get(string target, string extraHeaders = "")
        {
            Send("GET " + target + " HTTP/1.1\r\nHost: localhost\r\n" + extraHeaders + "\r\n");
            return Read();
        }

        public OwinResponse Post(string target, byte[] body, string extraHeaders = "")
        {
            Send("POST " + target + " HTTP/1.1\r\nHost: localhost\r\nContent-Length: " + body.Length + "\r\n" + extraHeaders + "\r\n");
            Send(body);
            return Read();
        }

        private bool Fill()
        {
            if (_start > 0 && _start == _end)
            {
                _start = _end = 0;
            }
            if (_end == _buffer.Length)
            {
                Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
                _end -= _start;
                _start = 0;
            }
            int n = _stream.Read(_buffer, _end, _buffer.Length - _end);
            if (n <= 0)
            {
                return false;
            }
            _end += n;
            return true;
        }

        public string ReadLine()
        {
            var line = new StringBuilder();
            while (true)
            {
                while (_start < _end)
                {
                    char c = (char)_buffer[_start++];
                    if (c == '\n')
                    {
                        if (line.Length > 0 && line[line.Length - 1] == '\r')
                        {
                            line.Length--;
                        }
                        return line.ToString();
                    }
                    line.Append(c);
                }
                if (!Fill())
                {
                    throw new IOException("the connection closed mid-line after \"" + line + "\"");
                }
            }
        }

        private void ReadExactly(Stream sink, long count)
        {
            while (count > 0)
            {
                if (_start == _end && !Fill())
                {
                    throw new IOException("the connection closed with " + count + " body bytes missing");
                }
                int n = (int)Math.Min(count, _end - _start);
                sink.Write(_buffer, _start, n);
                _start += n;
                count -= n;
            }
        }

        /// <summary>Reads one response head only (e.g. a 100 Continue).</summary>
        public OwinResponse ReadHead()
        {
            var response = new OwinResponse();
            string statusLine = ReadLine();
            string[] parts = statusLine.Split(new[] { ' ' }, 3);
            if (parts.Length < 2 || !parts[0].StartsWith("HTTP/", StringComparison.Ordinal))
            {
                throw new IOException("not a status line: \"" + statusLine + "\"");
            }
            response.Version = parts[0];
            response.Status = int.Parse(parts[1], CultureInfo.InvariantCulture);
            response.Reason = parts.Length > 2 ? parts[2] : "";
            string line;
            while ((line = ReadLine()).Length > 0)
            {
                int colon = line.IndexOf(':');
                response.Headers.Add(new KeyValuePair<string, string>(line.Substring(0, colon), line.Substring(colon + 1).Trim()));
            }
            return response;
        }

        /// <summary>Reads one final response (skipping 1xx), body included, into memory or into sink.</summary>
        public OwinResponse Read(bool headRequest = false, Stream sink = null)
        {
            OwinResponse response;
            do
            {
                response = ReadHead();
            }
            while (response.Status >= 100 && response.Status < 200);
            var body = sink ?? new MemoryStream();
            string te = response.Header("Transfer-Encoding");
            string cl = response.Header("Content-Length");
            if (headRequest || response.Status == 204 || response.Status == 304)
            {
                // no body
            }
            else if (te != null && te.IndexOf("chunked", StringComparison.OrdinalIgnoreCase) >= 0)
            {
                response.Chunked = true;
                while (true)
                {
                    string sizeLine = ReadLine();
                    int semi = sizeLine.IndexOf(';');
                    long size = long.Parse(semi >= 0 ? sizeLine.Substring(0, semi) : sizeLine, NumberStyles.HexNumber, CultureInfo.InvariantCulture);
                    if (size == 0)
                    {
                        while (ReadLine().Length > 0)
                        {
                        }
                        break;
                    }
                    ReadExactly(body, size);
                    if (ReadLine().Length != 0)
                    {
                        throw new IOException("a chunk did not end with CRLF");
                    }
                }
            }
            else if (cl != null)
            {
                ReadExactly(body, long.Parse(cl, CultureInfo.InvariantCulture));
            }
            else
            {
                while (_start < _end || Fill())
                {
                    body.Write(_buffer, _start, _end - _start);
                    _start = _end;
                }
            }
            if (sink == null)
            {
                response.Body = ((MemoryStream)body).ToArray();
            }
            return response;
        }

        /// <summary>True when the server closed the connection (EOF or reset) within timeout.</summary>
        public bool ClosedWithin(TimeSpan timeout)
        {
            _tcp.ReceiveTimeout = (int)timeout.TotalMilliseconds;
            try
            {
                while (true)
                {
                    if (_start < _end)
                    {
                        _start = _end;
                    }
                    if (!Fill())
                    {
                        return true;
                    }
                }
            }
            catch (IOException e)
            {
                var socketError = e.InnerException as SocketException;
                return socketError == null || socketError.SocketErrorCode != SocketError.TimedOut;
            }
        }

        /// <summary>
        /// The bytes that come until the server closes the connection (EOF or reset); fails
        /// the test when it is still open after timeout (a receive timeout is no close).
        /// </summary>
        public byte[] ReadUntilClosed(TimeSpan timeout)
        {
            _tcp.ReceiveTimeout = (int)timeout.TotalMilliseconds;
            var rest = new MemoryStream();
            try
            {
                while (true)
                {
                    rest.Write(_buffer, _start, _end - _start);
                    _start = _end;
                    if (!Fill())
                    {
                        return rest.ToArray();
                    }
                }
            }
            catch (IOException e)
            {
                var socketError = e.InnerException as SocketException;
                if (socketError != null && (socketError.SocketErrorCode == SocketError.TimedOut
                    || socketError.SocketErrorCode == SocketError.WouldBlock))
                {
                    Assert.Fail("the connection was still open after {0} s; received meanwhile: \"{1}\"",
                        timeout.TotalSeconds, Encoding.ASCII.GetString(rest.ToArray()));
                }
                return rest.ToArray(); // reset: cut
            }
        }

        public void Dispose()
        {
            _tcp.Close();
        }

        /// <summary>One GET on a fresh connection.</summary>
        public static OwinResponse GetOnce(int port, string target, string extraHeaders = "")
        {
            using (var client = new OwinHttpClient(port))
            {
                return client.Get(target, extraHeaders);
            }
        }
    }

    internal static class OwinAssert
    {
        /// <summary>
        /// A body of 30,000,001 bytes is refused 413 at its head; one of 30,000,000 is let in: with
        /// "Expect: 100-continue" the 100 comes once the application reads it (no need to send it).
        /// </summary>
        public static void RequestSizeLimitIs30000000(int port, string target)
        {
            using (var client = new OwinHttpClient(port))
            {
                client.Send("POST " + target + " HTTP/1.1\r\nHost: x\r\nContent-Length: 30000001\r\n\r\n");
                Assert.AreEqual(413, client.ReadHead().Status, "one byte over the limit");
            }
            using (var client = new OwinHttpClient(port))
            {
                client.Send("POST " + target + " HTTP/1.1\r\nHost: x\r\nContent-Length: 30000000\r\nExpect: 100-continue\r\n\r\n");
                Assert.AreEqual(100, client.ReadHead().Status, "at the limit: let in");
            }
        }
    }

    internal static class OwinWait
    {
        /// <summary>Polls condition until it holds or timeout passes; returns whether it held.</summary>
        public static bool Until(Func<bool> condition, TimeSpan timeout)
        {
            var clock = Stopwatch.StartNew();
            while (!condition())
            {
                if (clock.Elapsed > timeout)
                {
                    return false;
                }
                Thread.Sleep(5);
            }
            return true;
        }

        /// <summary>
        /// Waits until the engine routes requests to a host: it notices a new host on its
        /// next liveness tick and answers 503 until then.
        /// </summary>
        public static void UntilServed(int port, string target = "/")
        {
            DateTime deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
            OwinResponse last = null;
            while (DateTime.UtcNow < deadline)
            {
                last = OwinHttpClient.GetOnce(port, target);
                if (last.Status != 503 && last.Status != 502)
                {
                    return;
                }
                Thread.Sleep(20);
            }
            Assert.Fail("the engine on port {0} still answers {1} after 15 s", port, last);
        }
    }

    internal static class OwinChecksum
    {
        /// <summary>Byte i of the sample's /download: i mod 251.</summary>
        public static string OfPattern(long length)
        {
            using (var sha = SHA256.Create())
            {
                var block = new byte[64 * 1024];
                long done = 0;
                while (done < length)
                {
                    int n = (int)Math.Min(block.Length, length - done);
                    for (int i = 0; i < n; i++)
                    {
                        block[i] = (byte)((done + i) % 251);
                    }
                    sha.TransformBlock(block, 0, n, null, 0);
                    done += n;
                }
                sha.TransformFinalBlock(block, 0, 0);
                return BitConverter.ToString(sha.Hash);
            }
        }

        public static string Of(byte[] bytes)
        {
            using (var sha = SHA256.Create())
            {
                return BitConverter.ToString(sha.ComputeHash(bytes));
            }
        }
    }

    /// <summary>A stream that hashes what is written to it and keeps only the count.</summary>
    internal sealed class OwinHashingSink : Stream
    {
        private readonly SHA256 _sha = SHA256.Create();
        public long Count;

        public string Hash()
        {
            _sha.TransformFinalBlock(new byte[0], 0, 0);
            return BitConverter.ToString(_sha.Hash);
        }

        public override void Write(byte[] buffer, int offset, int count)
        {
            _sha.TransformBlock(buffer, offset, count, null, 0);
            Count += count;
        }

        public override bool CanRead { get { return false; } }
        public override bool CanSeek { get { return false; } }
        public override bool CanWrite { get { return true; } }
        public override long Length { get { return Count; } }
        public override long Position { get { return Count; } set { throw new NotSupportedException(); } }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) { throw new NotSupportedException(); }
        public override long Seek(long offset, SeekOrigin origin) { throw new NotSupportedException(); }
        public override void SetLength(long value) { throw new NotSupportedException(); }
    }
}
