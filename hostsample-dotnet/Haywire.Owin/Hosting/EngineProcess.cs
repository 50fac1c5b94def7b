using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Text;
using System.Threading;

namespace Haywire.Owin
{
    /// <summary>
    /// A launched engine (build/haywire): started with --port, its first stdout lines
    /// give the region ("region: NAME") and the address ("listening: ADDR"); the rest
    /// of its stdout goes to the trace output, its stderr is inherited. Stopped with
    /// SIGTERM (a graceful stop: requests in flight finish), then killed if it hangs.
    /// </summary>
    internal sealed class EngineProcess : IDisposable
    {
        private readonly Process _process;
        private readonly ServerTrace _trace;

        private EngineProcess(Process process, string regionName, string listenAddress, ServerTrace trace)
        {
            _process = process;
            RegionName = regionName;
            ListenAddress = listenAddress;
            _trace = trace;
        }

        public string RegionName { get; private set; }
        public string ListenAddress { get; private set; }

        public int Pid
        {
            get { return _process.Id; }
        }

        public bool HasExited
        {
            get { return _process.HasExited; }
        }

        /// <summary>The launcher to run: see <see cref="OwinHostOptions.EnginePath"/>.</summary>
        public static string FindEngine(string configured)
        {
            if (!string.IsNullOrEmpty(configured))
            {
                if (!File.Exists(configured))
                {
                    throw new FileNotFoundException("the engine launcher " + configured + " does not exist", configured);
                }
                return configured;
            }
            var tried = new List<string>();
            string buildDir = Environment.GetEnvironmentVariable("HAYWIRE_BUILD_DIR");
            if (!string.IsNullOrEmpty(buildDir))
            {
                tried.Add(Path.Combine(buildDir, "haywire"));
            }
            string here = Path.GetDirectoryName(typeof(EngineProcess).Assembly.Location);
            if (!string.IsNullOrEmpty(here))
            {
                tried.Add(Path.GetFullPath(Path.Combine(here, "..", "haywire")));
                tried.Add(Path.Combine(here, "haywire"));
            }
            foreach (string candidate in tried)
            {
                if (File.Exists(candidate))
                {
                    return candidate;
                }
            }
            string path = Environment.GetEnvironmentVariable("PATH") ?? "";
            foreach (string dir in path.Split(Path.PathSeparator))
            {
                if (dir.Length > 0 && File.Exists(Path.Combine(dir, "haywire")))
                {
                    return Path.Combine(dir, "haywire");
                }
            }
            throw new FileNotFoundException("the engine launcher \"haywire\" was not found (tried "
                + string.Join(", ", tried) + " and the PATH); build it with ./build.sh or set HAYWIRE_BUILD_DIR");
        }

        public static EngineProcess Start(string enginePath, int port, IList<string> extraArguments, TimeSpan startTimeout,
            ServerTrace trace)
        {
            // --exit-with-parent: if this host dies, even by kill -9, its engine
            // stops too instead of serving 503s as an orphan.
            var arguments = new StringBuilder("--exit-with-parent --port "
                + port.ToString(System.Globalization.CultureInfo.InvariantCulture));
            foreach (string argument in extraArguments ?? new string[0])
            {
                arguments.Append(' ').Append(Quote(argument));
            }
            var info = new ProcessStartInfo(enginePath, arguments.ToString())
            {
                UseShellExecute = false,
                RedirectStandardOutput = true,
                RedirectStandardInput = false,
                CreateNoWindow = true,
            };
            Process process = Process.Start(info);
            var lines = new BlockingCollection<string>();
            var reader = new Thread(() =>
            {
                try
                {
                    string line;
                    while ((line = process.StandardOutput.ReadLine()) != null)
                    {
                        if (!lines.IsAddingCompleted)
                        {
                            lines.Add(line);
                        }
                        else
                        {
                            trace.Write("engine: " + line);
                        }
                    }
                }
                catch (Exception)
                {
                    // The pipe broke: the engine is gone, which the host notices on its own.
                }
                finally
                {
                    if (!lines.IsAddingCompleted)
                    {
                        lines.CompleteAdding();
                    }
                }
            });
            reader.IsBackground = true;
            reader.Name = "haywire engine stdout";
            reader.Start();

            string region = null, listening = null;
            DateTime deadline = DateTime.UtcNow + startTimeout;
            try
            {
                while (region == null || listening == null)
                {
                    TimeSpan left = deadline - DateTime.UtcNow;
                    string line;
                    if (left <= TimeSpan.Zero || !lines.TryTake(out line, left))
                    {
                        string why = process.HasExited
                            ? "it exited with status " + process.ExitCode + " (its error is on standard error)"
                            : "it printed no \"region:\" and \"listening:\" lines within " + startTimeout.TotalSeconds + " s";
                        throw new InvalidOperationException("the engine " + enginePath + " " + arguments + " did not start: " + why);
                    }
                    if (line.StartsWith("region: ", StringComparison.Ordinal))
                    {
                        region = line.Substring("region: ".Length).Trim();
                    }
                    else if (line.StartsWith("listening: ", StringComparison.Ordinal))
                    {
                        listening = line.Substring("listening: ".Length).Trim();
                    }
                    else
                    {
                        trace.Write("engine: " + line);
                    }
                }
            }
            catch (Exception)
            {
                lines.CompleteAdding();
                KillQuietly(process);
                throw;
            }
            lines.CompleteAdding(); // later lines go to the trace output
            return new EngineProcess(process, region, listening, trace);
        }

        private static string Quote(string argument)
        {
            if (argument.Length > 0 && argument.IndexOfAny(new[] { ' ', '"', '\'', '\\', '\t' }) < 0)
            {
                return argument;
            }
            return "\"" + argument.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"";
        }

        /// <summary>SIGTERM, wait up to timeout, then SIGKILL. Returns true if it stopped by itself.</summary>
        public bool Stop(TimeSpan timeout)
        {
            try
            {
                if (_process.HasExited)
                {
                    return true;
                }
                if (NativeMethods.TryKill(_process.Id, NativeMethods.SIGTERM) && _process.WaitForExit((int)timeout.TotalMilliseconds))
                {
                    return true;
                }
                _trace.Write("the engine (pid " + _process.Id + ") did not stop within " + timeout.TotalSeconds + " s: killing it");
                KillQuietly(_process);
                return false;
            }
            catch (InvalidOperationException)
            {
                return true; // already gone
            }
        }

        private static void KillQuietly(Process process)
        {
            try
            {
                if (!process.HasExited)
                {
                    process.Kill();
                    process.WaitForExit(5000);
                }
            }
            catch (Exception)
            {
                // Gone meanwhile.
            }
        }

        public void Dispose()
        {
            Stop(TimeSpan.FromSeconds(10));
            _process.Dispose();
        }
    }
}
