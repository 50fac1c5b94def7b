using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Reflection;
using System.Threading;

namespace Haywire.Owin
{
    /// <summary>
    /// The command line shared by Sample.exe and Haywire.Host.exe:
    /// <c>--region NAME</c> (attach to a running engine) or <c>--launch --port P</c> (start
    /// the engine launcher), plus <c>--swap</c>, <c>--path-base</c>, <c>--region-dir</c>,
    /// <c>--engine</c>, <c>--help</c>. Given no mode, <c>HAYWIRE_REGION</c> (and
    /// <c>HAYWIRE_REGION_DIR</c>) from the environment stand for <c>--region</c> (and
    /// <c>--region-dir</c>): the launcher's <c>--host-command</c> sets them. Runs until the
    /// engine goes away, a newer host takes over (hot swap), or SIGINT/SIGTERM.
    /// </summary>
    public sealed class HostCommandLine
    {
        public string Region;
        public bool Launch;
        public bool InProcess;
        public int Port = -1;
        public bool Swap;
        public string PathBase = "";
        public string RegionDir;
        public string EnginePath;
        public List<string> EngineArguments = new List<string>();
        public bool Help;
        /// <summary>Options a program adds (e.g. Haywire.Host's --app), name → value.</summary>
        public Dictionary<string, string> Extra = new Dictionary<string, string>(StringComparer.Ordinal);

        /// <summary>The usage text of the common options.</summary>
        public const string CommonUsage =
            "  --region NAME        attach to the engine that printed \"region: NAME\" (given none of\n" +
            "                       --region, --launch, --in-process: $HAYWIRE_REGION and $HAYWIRE_REGION_DIR,\n" +
            "                       which build/haywire --host-command sets)\n" +
            "  --launch --port P    start the engine launcher (build/haywire) on port P and serve through it\n" +
            "  --in-process --port P  load libhaywire into this process and serve through it (Mono; needs\n" +
            "                       libhaywire.so findable, e.g. LD_LIBRARY_PATH=build)\n" +
            "  --swap               replace the host serving the region now (hot swap): the engine sends it a\n" +
            "                       drain notice, it finishes its requests and exits. Any attach does this;\n" +
            "                       the flag states the intent and reports the takeover\n" +
            "  --path-base /BASE    serve under /BASE (owin.RequestPathBase); other paths get 404\n" +
            "  --region-dir DIR     directory of the region files (default /dev/shm)\n" +
            "  --engine PATH        the launcher to start with --launch (default: $HAYWIRE_BUILD_DIR/haywire,\n" +
            "                       then ../haywire beside Haywire.Owin.dll)\n" +
            "  --engine-arg ARG     pass ARG to the launcher (repeatable), e.g. --engine-arg --threads=2\n" +
            "  --help               this text\n";

        /// <summary>Parses args; extraOptions are the program's own options that take a value.</summary>
        public static HostCommandLine Parse(string[] args, params string[] extraOptions)
        {
            var line = new HostCommandLine();
            var extra = new HashSet<string>(extraOptions ?? new string[0], StringComparer.Ordinal);
            for (int i = 0; i < args.Length; i++)
            {
                string arg = args[i];
                string inlineValue = null;
                if (arg.StartsWith("--", StringComparison.Ordinal) && arg.IndexOf('=') > 0)
                {
                    inlineValue = arg.Substring(arg.IndexOf('=') + 1);
                    arg = arg.Substring(0, arg.IndexOf('='));
                }
                Func<string> value = () =>
                {
                    if (inlineValue != null)
                    {
                        return inlineValue;
                    }
                    if (i + 1 >= args.Length)
                    {
                        throw new ArgumentException(arg + " needs a value");
                    }
                    return args[++i];
                };
                switch (arg)
                {
                    case "--region": line.Region = value(); break;
                    case "--launch": line.Launch = true; break;
                    case "--in-process": line.InProcess = true; break;
                    case "--port":
                        int port;
                        string text = value();
                        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out port) || port > 65535)
                        {
                            throw new ArgumentException("--port: not a port number: " + text);
                        }
                        line.Port = port;
                        break;
                    case "--swap": line.Swap = true; break;
                    case "--path-base": line.PathBase = value(); break;
                    case "--region-dir": line.RegionDir = value(); break;
                    case "--engine": line.EnginePath = value(); break;
                    case "--engine-arg": line.EngineArguments.Add(value()); break;
                    case "-h":
                    case "--help":
                    case "-help":
                        line.Help = true; break;
                    default:
                        if (extra.Contains(arg))
                        {
                            line.Extra[arg] = value();
                            break;
                        }
                        throw new ArgumentException("unknown argument " + args[i]);
                }
            }
            if (line.Help)
            {
                return line;
            }
            int modes = (line.Region != null ? 1 : 0) + (line.Launch ? 1 : 0) + (line.InProcess ? 1 : 0);
            string envRegion = Environment.GetEnvironmentVariable("HAYWIRE_REGION");
            if (modes == 0 && !string.IsNullOrEmpty(envRegion))
            {
                // Started by the launcher (build/haywire --host-command): attach to its region.
                line.Region = envRegion;
                string envDir = Environment.GetEnvironmentVariable("HAYWIRE_REGION_DIR");
                if (line.RegionDir == null && !string.IsNullOrEmpty(envDir))
                {
                    line.RegionDir = envDir;
                }
                modes = 1;
            }
            if (modes == 0)
            {
                throw new ArgumentException("give --region NAME (attach) or --launch --port P (start the engine)");
            }
            if (modes > 1)
            {
                throw new ArgumentException("--region, --launch and --in-process exclude each other");
            }
            if ((line.Launch || line.InProcess) && line.Port < 0)
            {
                throw new ArgumentException((line.Launch ? "--launch" : "--in-process") + " needs --port P (0: any free port)");
            }
            if (line.Port >= 0 && !line.Launch && !line.InProcess)
            {
                throw new ArgumentException("--port goes with --launch or --in-process");
            }
            if (line.Swap && line.Region == null)
            {
                throw new ArgumentException("--swap goes with --region (a launched engine has no host to replace)");
            }
            PathDecoder.NormalizeBase(line.PathBase);
            return line;
        }

        /// <summary>The host options these arguments describe.</summary>
        public OwinHostOptions ToOptions()
        {
            var options = new OwinHostOptions { PathBase = PathBase, RegionDir = RegionDir, EnginePath = EnginePath };
            foreach (string argument in EngineArguments)
            {
                options.EngineArguments.Add(argument);
            }
            return options;
        }

        /// <summary>
        /// Starts the host these arguments describe with startup, prints where it serves on
        /// standard output ("serving: region NAME lane K[, listening ADDR]"), and blocks until
        /// it stops. Returns the process exit status: 0 after a hot swap, a signal or the
        /// engine's graceful stop; a program's Main ends with <see cref="Exit"/>(status).
        /// </summary>
        public int Serve(Action<AppBuilder> startup)
        {
            OwinHostOptions options = ToOptions();
            OwinHost host = Launch ? OwinHost.Launch(Port, startup, options)
                : InProcess ? OwinHost.StartInProcess(Port, startup, options)
                : OwinHost.Attach(Region, startup, options);
            ManualResetEventSlim disposed = new ManualResetEventSlim(false);
            try
            {
                Console.WriteLine("serving: region " + host.RegionName + " lane " + host.Lane
                    + (host.ListenAddress != null ? ", listening " + host.ListenAddress : "")
                    + (Swap ? " (swapped in: the previous host drains and exits)" : ""));
                Console.Out.Flush();
                var stop = new ManualResetEventSlim(false);
                ShutdownSignals.OnStop(() => stop.Set(), disposed);
                host.Completion.ContinueWith(_ => stop.Set());
                stop.Wait();
                HostStopReason reason = host.Completion.IsCompleted ? host.Completion.Result : HostStopReason.Disposed;
                Console.Error.WriteLine("stopping: " + (reason == HostStopReason.Running || reason == HostStopReason.Disposed
                    ? "signal" : reason == HostStopReason.Drained ? "a newer host took over" : "the engine went away"));
            }
            finally
            {
                host.Dispose();
                disposed.Set();
            }
            return 0;
        }

        /// <summary>How long <see cref="Exit"/> lets the runtime's exit take before ending the process itself.</summary>
        private static readonly TimeSpan ExitTimeout = TimeSpan.FromSeconds(3);

        /// <summary>
        /// Ends the process with status, for a Main after <see cref="Serve"/> returned: the host
        /// is stopped and disposed, so nothing is left to finish. Returning from Main instead
        /// lets Mono 6.8 hang at exit: its shutdown (mono_thread_manage) sometimes waits forever
        /// on the handles of threads that have already exited (seen after a hot swap: 5-6
        /// handles waited on, 4 threads alive). Environment.Exit does not wait for threads;
        /// should it stall too, libc _exit ends the process ExitTimeout later. Output is flushed first.
        /// </summary>
        public static int Exit(int status)
        {
            Console.Out.Flush();
            Console.Error.Flush();
            if (Type.GetType("Mono.Runtime") != null)
            {
                var backstop = new Thread(() =>
                {
                    Thread.Sleep(ExitTimeout);
                    NativeMethods.TryExitNow(status);
                });
                backstop.IsBackground = true;
                backstop.Name = "exit backstop";
                backstop.Start();
            }
            Environment.Exit(status);
            return status;
        }

        /// <summary>Prints "error: message" and the usage to standard error; returns 2.</summary>
        public static int Fail(string program, string message, string usage)
        {
            Console.Error.WriteLine(program + ": " + message);
            Console.Error.WriteLine();
            Console.Error.Write(usage);
            return 2;
        }
    }
}
