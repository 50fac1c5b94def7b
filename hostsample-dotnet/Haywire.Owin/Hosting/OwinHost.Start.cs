using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Threading;
using System.Threading.Tasks;

using Haywire.Owin.Transport;

using AppFunc = System.Func<System.Collections.Generic.IDictionary<string, object>, System.Threading.Tasks.Task>;
namespace Haywire.Owin
{
    // The factories: Attach, Launch, StartInProcess, and what they share (build the application, attach, serve).
    public sealed partial class OwinHost
    {
        /// <summary>Serves app from the region an engine created (its "region: NAME").</summary>
        public static OwinHost Attach(string regionName, AppFunc app, OwinHostOptions options = null)
        {
            return Attach(regionName, RunApp(app), options);
        }

        /// <summary>Serves the pipeline startup builds from the region an engine created.</summary>
        public static OwinHost Attach(string regionName, Action<AppBuilder> startup, OwinHostOptions options = null)
        {
            if (string.IsNullOrEmpty(regionName))
            {
                throw new ArgumentException("a region name (\"haywire-<uuid>\") is required", "regionName");
            }
            var host = new OwinHost(options, null);
            try
            {
                host.Build(startup);
                host.AttachAndServe(regionName);
            }
            catch
            {
                host.Dispose();
                throw;
            }
            return host;
        }

        /// <summary>Starts the engine launcher on port (0: any free port) and serves app through it.</summary>
        public static OwinHost Launch(int port, AppFunc app, OwinHostOptions options = null)
        {
            return Launch(port, RunApp(app), options);
        }

        /// <summary>Starts the engine launcher on port (0: any free port) and serves the pipeline startup builds.</summary>
        public static OwinHost Launch(int port, Action<AppBuilder> startup, OwinHostOptions options = null)
        {
            options = options ?? new OwinHostOptions();
            string enginePath = EngineProcess.FindEngine(options.EnginePath);
            var arguments = new List<string>(options.EngineArguments ?? new string[0]);
            if (options.RegionDir != null)
            {
                arguments.Add("--region-dir");
                arguments.Add(options.RegionDir);
            }
            var trace = new ServerTrace(options.TraceOutput ?? TextWriter.Synchronized(Console.Error));
            EngineProcess engine = EngineProcess.Start(enginePath, port, arguments, options.EngineStartTimeout, trace);
            OwinHost host;
            try
            {
                host = new OwinHost(options, AddressesOf(engine.ListenAddress, options.PathBase));
                host._engine = engine;
            }
            catch
            {
                engine.Dispose();
                throw;
            }
            try
            {
                host.Build(startup);
                host.AttachAndServe(engine.RegionName);
            }
            catch
            {
                host.Dispose();
                throw;
            }
            return host;
        }

        /// <summary>
        /// Loads libhaywire into this process, starts its engine on port (0: any free port, see
        /// <see cref="ListenAddress"/>) with the bridge on,
        /// and serves app from its region — still read in managed code on managed threads:
        /// the library's Go threads never call into .NET. Supported on Mono; on CoreCLR a Go
        /// library in-process crashes under load (DESIGN.md), use Launch there. One engine per
        /// process; it stops when the host is disposed.
        /// </summary>
        public static OwinHost StartInProcess(int port, AppFunc app, OwinHostOptions options = null)
        {
            return StartInProcess(port, RunApp(app), options);
        }

        /// <summary>As <see cref="StartInProcess(int, AppFunc, OwinHostOptions)"/>, with a pipeline startup builds.</summary>
        public static OwinHost StartInProcess(int port, Action<AppBuilder> startup, OwinHostOptions options = null)
        {
            options = options ?? new OwinHostOptions();
            string region, listen;
            try
            {
                Check(NativeMethods.hw_config_set("bridge", "1"), "hw_config_set(bridge)");
                Check(NativeMethods.hw_config_set("listen_port", port.ToString(CultureInfo.InvariantCulture)), "hw_config_set(listen_port)");
                // The C API keeps Haywire's default (Nagle on); streamed responses want it off.
                Check(NativeMethods.hw_config_set("tcp_nodelay", "1"), "hw_config_set(tcp_nodelay)");
                // Haywire's default is 1 MiB; the launcher's, which Launch gets, is 30,000,000 (as Kestrel and IIS).
                Check(NativeMethods.hw_config_set("max_request_size", DefaultMaxRequestSize.ToString(CultureInfo.InvariantCulture)),
                    "hw_config_set(max_request_size)");
                if (options.RegionDir != null)
                {
                    Check(NativeMethods.hw_config_set("region_dir", options.RegionDir), "hw_config_set(region_dir)");
                }
                Check(NativeMethods.hw_start(), "hw_start");
                region = NativeMethods.RegionName();
                listen = NativeMethods.ListenAddress();
            }
            catch (DllNotFoundException e)
            {
                throw new InvalidOperationException("libhaywire could not be loaded (" + e.Message
                    + "): put build/ on LD_LIBRARY_PATH, or use Launch", e);
            }
            var host = new OwinHost(options, AddressesOf(listen, options.PathBase));
            host._inProcess = true;
            host._inProcessListen = listen;
            try
            {
                host.Build(startup);
                host.AttachAndServe(region);
            }
            catch
            {
                host.Dispose();
                throw;
            }
            return host;
        }

        private static void Check(int rc, string call)
        {
            if (rc != NativeMethods.HW_OK)
            {
                throw new InvalidOperationException(call + " failed (" + rc + "): " + NativeMethods.LastError());
            }
        }

        private static Action<AppBuilder> RunApp(AppFunc app)
        {
            if (app == null)
            {
                throw new ArgumentNullException("app");
            }
            return builder => builder.Run(app);
        }

        /// <summary>host.Addresses for an engine listening on "ip:port" or "[ip6]:port".</summary>
        private static IList<IDictionary<string, object>> AddressesOf(string listenAddress, string pathBase)
        {
            var list = new List<IDictionary<string, object>>();
            if (string.IsNullOrEmpty(listenAddress))
            {
                return list;
            }
            int colon = listenAddress.LastIndexOf(':');
            string hostPart = colon > 0 ? listenAddress.Substring(0, colon) : listenAddress;
            string port = colon > 0 ? listenAddress.Substring(colon + 1) : "80";
            if (hostPart == "0.0.0.0" || hostPart == "[::]" || hostPart.Length == 0)
            {
                hostPart = "*"; // every interface, as Katana writes it
            }
            list.Add(new Dictionary<string, object>(StringComparer.Ordinal)
            {
                { "scheme", "http" },
                { "host", hostPart },
                { "port", port },
                { "path", PathDecoder.NormalizeBase(pathBase) },
            });
            return list;
        }

        private void Build(Action<AppBuilder> startup)
        {
            if (startup == null)
            {
                throw new ArgumentNullException("startup");
            }
            var builder = new AppBuilder(_server.Properties);
            startup(builder);
            _server.App = builder.Build();
        }

        private void AttachAndServe(string regionName)
        {
            _connection = HostConnection.Attach(regionName, _options.RegionDir, _options.AttachTimeout);
            _connection.DeferWakesOnNextThread = true; // the pump answers a batch, then rings the engine once
            _poolOnly = _options.DispatchToThreadPool;
            if (!_poolOnly)
            {
                _watchdog = new Timer(Watch, null, WatchdogMs, WatchdogMs);
            }
            StartWorker();
        }
    }
}
