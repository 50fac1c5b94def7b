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
    /// <summary>Why an <see cref="OwinHost"/> stopped serving.</summary>
    public enum HostStopReason
    {
        /// <summary>Still serving.</summary>
        Running = 0,
        /// <summary>Dispose was called.</summary>
        Disposed,
        /// <summary>A newer host attached and took over (hot swap); every request was answered.</summary>
        Drained,
        /// <summary>The engine stopped or died.</summary>
        EngineGone,
    }

    /// <summary>
    /// Serves an OWIN application from an engine's shared region. Three ways to start:
    /// <list type="bullet">
    /// <item><see cref="Attach(string, AppFunc, OwinHostOptions)"/>: the engine runs elsewhere
    /// (build/haywire --port P printed "region: NAME");</item>
    /// <item><see cref="Launch(int, AppFunc, OwinHostOptions)"/> (the usual one): start the
    /// engine launcher as a child process, then attach to it;</item>
    /// <item><see cref="StartInProcess(int, AppFunc, OwinHostOptions)"/>: load libhaywire into
    /// this process ([DllImport("haywire")]) and attach to its region. Tested on Mono; CoreCLR
    /// users should prefer Launch (README, DESIGN.md "Process model").</item>
    /// </list>
    /// In every mode the requests are read from the region in managed code: one pump thread
    /// takes them and runs the application on the thread pool, any number at once.
    /// When a newer host attaches to the same engine (hot swap), this one stops taking
    /// requests, finishes those it has, detaches and completes <see cref="Completion"/>
    /// with <see cref="HostStopReason.Drained"/>.
    /// </summary>
    public sealed class OwinHost : IDisposable
    {
        private static readonly WaitCallback RunCall = state => ((OwinCall)state).Start();

        /// <summary>The largest request body StartInProcess lets in (larger: 413), the launcher's default too.</summary>
        public const long DefaultMaxRequestSize = 30000000;

        /// <summary>How often the watchdog looks at the pump; a request it finds running inline twice is stuck.</summary>
        private const int WatchdogMs = 50;

        /// <summary>Replaced pumps after which every request goes to the thread pool.</summary>
        private const int RetirementsBeforePoolOnly = 3;

        private readonly OwinHostOptions _options;
        private readonly ServerContext _server;
        private readonly CancellationTokenSource _disposing = new CancellationTokenSource();
        private readonly TaskCompletionSource<HostStopReason> _completion = new TaskCompletionSource<HostStopReason>();
        private readonly ManualResetEventSlim _idle = new ManualResetEventSlim(true);
        private readonly Action<OwinCall> _onCallEnded;
        private readonly ServerTrace _trace;
        private HostConnection _connection;
        private EngineProcess _engine;
        private bool _inProcess;
        private string _inProcessListen;
        private PumpWorker _worker; // the thread allowed to call Next; replaced when an application blocks it
        private Timer _watchdog;
        private int _retirements;
        private volatile bool _poolOnly;
        private volatile bool _stopping;
        private volatile bool _leaving; // Dispose asked the engine for no more requests
        private int _inFlight;
        private int _disposed;

        private OwinHost(OwinHostOptions options, IList<IDictionary<string, object>> addresses)
        {
            _options = options ?? new OwinHostOptions();
            TextWriter trace = _options.TraceOutput ?? TextWriter.Synchronized(Console.Error);
            _trace = new ServerTrace(trace);
            _server = new ServerContext(_options.PathBase, trace, addresses, _disposing.Token);
            _onCallEnded = OnCallEnded;
        }

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

        /// <summary>
        /// The pump thread and its state. State: Idle (in Next or between requests), Running
        /// (inside an application's synchronous part), Retired (the watchdog gave the pump to a
        /// new worker while this one was stuck in an application: it exits when it returns).
        /// </summary>
        private sealed class PumpWorker
        {
            public const int Idle = 0, Running = 1, Retired = 2;
            public int State;
            public long Calls; // inline calls started; the watchdog compares it between ticks
            public long CallsSeen = -1;
            public Thread Thread;
        }

        private void StartWorker()
        {
            var worker = new PumpWorker();
            worker.Thread = new Thread(() => Pump(worker));
            worker.Thread.Name = "haywire pump " + _connection.RegionName;
            worker.Thread.IsBackground = true;
            Volatile.Write(ref _worker, worker);
            worker.Thread.Start();
        }

        /// <summary>
        /// Replaces a pump stuck in one application call for a whole tick, so one blocking
        /// application cannot hold up the requests behind it (or the body pieces its own
        /// synchronous read waits for).
        /// </summary>
        private void Watch(object unused)
        {
            PumpWorker worker = Volatile.Read(ref _worker);
            if (worker == null || Volatile.Read(ref worker.State) != PumpWorker.Running)
            {
                return;
            }
            long calls = Volatile.Read(ref worker.Calls);
            if (calls != worker.CallsSeen)
            {
                worker.CallsSeen = calls;
                return;
            }
            if (Interlocked.CompareExchange(ref worker.State, PumpWorker.Retired, PumpWorker.Running) != PumpWorker.Running)
            {
                return; // it returned meanwhile and keeps pumping
            }
            if (Interlocked.Increment(ref _retirements) >= RetirementsBeforePoolOnly && !_poolOnly)
            {
                _poolOnly = true;
                _trace.Write("the application blocked the request pump " + RetirementsBeforePoolOnly
                    + " times: every request runs on the thread pool from now on");
            }
            StartWorker();
        }

        /// <summary>The startup properties the application was built with (OWIN 1.0 §4).</summary>
        public IDictionary<string, object> Properties
        {
            get { return _server.Properties; }
        }

        /// <summary>The name of the region lane this host attached to.</summary>
        public string RegionName
        {
            get { return _connection == null ? null : _connection.RegionName; }
        }

        /// <summary>The engine's region name (lane 0), what other hosts attach to.</summary>
        public string EngineRegionName
        {
            get
            {
                string lane = RegionName;
                if (lane == null)
                {
                    return null;
                }
                int dot = lane.LastIndexOf('.');
                return dot > 0 ? lane.Substring(0, dot) : lane;
            }
        }

        /// <summary>The lane of the region this host attached to.</summary>
        public int Lane
        {
            get { return _connection == null ? -1 : _connection.Lane; }
        }

        /// <summary>
        /// Launch and StartInProcess: the address the engine listens on ("ip:port", "[ip6]:port";
        /// the port the system picked for port 0); null when attached to another's engine.
        /// </summary>
        public string ListenAddress
        {
            get { return _engine != null ? _engine.ListenAddress : _inProcessListen; }
        }

        /// <summary>Launch: the engine's process id; 0 otherwise.</summary>
        public int EnginePid
        {
            get { return _engine == null ? 0 : _engine.Pid; }
        }

        /// <summary>Requests handed to the application and not yet answered.</summary>
        public int InFlight
        {
            get { return Volatile.Read(ref _inFlight); }
        }

        /// <summary>Completes when the host stops serving, with the reason.</summary>
        public Task<HostStopReason> Completion
        {
            get { return _completion.Task; }
        }

        private void OnCallEnded(OwinCall call)
        {
            if (Interlocked.Decrement(ref _inFlight) == 0)
            {
                _idle.Set();
            }
        }

        private void Pump(PumpWorker worker)
        {
            HostStopReason reason = HostStopReason.Disposed;
            try
            {
                reason = TakeRequests(worker);
                if (reason == HostStopReason.Running)
                {
                    return; // retired: the new worker owns the pump and its ending
                }
                FinishInFlight(reason);
            }
            catch (Exception e)
            {
                _trace.Write("the request pump failed: " + e);
                reason = HostStopReason.EngineGone;
            }
            finally
            {
                if (reason != HostStopReason.Running)
                {
                    Finished(reason);
                }
            }
        }

        private void Finished(HostStopReason reason)
        {
            Timer watchdog = Interlocked.Exchange(ref _watchdog, null);
            if (watchdog != null)
            {
                watchdog.Dispose();
            }
            DetachQuietly();
            if (reason != HostStopReason.Disposed)
            {
                _trace.Write(reason == HostStopReason.Drained
                    ? "a newer host took over: every request answered, detached"
                    : "the engine went away: detached");
            }
            _completion.TrySetResult(reason);
        }

        /// <summary>
        /// Takes requests until stopped, drained or cut off (returns Running when retired).
        /// The synchronous part of each application call runs here, on the pump thread: a hop
        /// to the thread pool per request costs more than the rest of the host (measured:
        /// pipelined hello world 55k rps with the hop, 100k without). What an application
        /// awaits continues on the thread pool as usual. Requests whose body still streams in
        /// go to the thread pool: a synchronous read there waits for pieces this thread
        /// delivers. An application that blocks anyway is handled by <see cref="Watch"/>.
        /// </summary>
        private HostStopReason TakeRequests(PumpWorker worker)
        {
            HostConnection connection = _connection;
            while (!_stopping)
            {
                HostRequest request;
                try
                {
                    request = connection.Next(100);
                }
                catch (DrainedException)
                {
                    return _leaving ? HostStopReason.Disposed : HostStopReason.Drained;
                }
                catch (HaywireException e)
                {
                    _trace.Write("the engine is gone: " + e.Message);
                    return HostStopReason.EngineGone;
                }
                if (request == null)
                {
                    continue;
                }
                if (Interlocked.Increment(ref _inFlight) == 1)
                {
                    _idle.Reset();
                }
                var call = new OwinCall(_server, new HostRequestExchange(request), _onCallEnded);
                if (_poolOnly || request.BodyStreamed)
                {
                    ThreadPool.UnsafeQueueUserWorkItem(RunCall, call);
                    continue;
                }
                worker.Calls++;
                Volatile.Write(ref worker.State, PumpWorker.Running);
                call.Start();
                if (Interlocked.CompareExchange(ref worker.State, PumpWorker.Idle, PumpWorker.Running) != PumpWorker.Running)
                {
                    return HostStopReason.Running; // the watchdog handed the pump to a new worker
                }
            }
            return HostStopReason.Disposed;
        }

        /// <summary>
        /// Lets the requests in flight finish, still pumping the region meanwhile: their
        /// body pieces, cancellations and the chunks the engine gives back arrive there.
        /// </summary>
        private void FinishInFlight(HostStopReason reason)
        {
            if (reason == HostStopReason.EngineGone)
            {
                // Their tokens fired; their answers go nowhere. Give them a moment to see it.
                _idle.Wait(TimeSpan.FromSeconds(1));
                return;
            }
            DateTime deadline = DateTime.UtcNow + _options.ShutdownTimeout;
            while (Volatile.Read(ref _inFlight) > 0 && DateTime.UtcNow < deadline)
            {
                try
                {
                    HostRequest late = _connection.Next(20);
                    if (late != null)
                    {
                        // Taken before the drain notice: serve it like the others.
                        if (Interlocked.Increment(ref _inFlight) == 1)
                        {
                            _idle.Reset();
                        }
                        ThreadPool.UnsafeQueueUserWorkItem(RunCall, new OwinCall(_server, new HostRequestExchange(late), _onCallEnded));
                    }
                }
                catch (DrainedException)
                {
                    _idle.Wait(20);
                }
                catch (HaywireException)
                {
                    _idle.Wait(TimeSpan.FromSeconds(1));
                    return;
                }
            }
            if (Volatile.Read(ref _inFlight) > 0)
            {
                _trace.Write(Volatile.Read(ref _inFlight) + " requests still running after " + _options.ShutdownTimeout.TotalSeconds
                    + " s: detaching without them");
            }
        }

        private void DetachQuietly()
        {
            HostConnection connection = Interlocked.Exchange(ref _connection, null);
            if (connection == null)
            {
                return;
            }
            try
            {
                connection.Dispose();
            }
            catch (Exception e)
            {
                _trace.Write("detaching failed: " + e.Message);
            }
        }

        /// <summary>Blocks until the host stops (drained, engine gone, disposed) or timeout passes.</summary>
        public bool WaitForStop(TimeSpan timeout)
        {
            return _completion.Task.Wait(timeout);
        }

        /// <summary>
        /// Stops serving: a launched or in-process engine is stopped gracefully first (it lets
        /// requests in flight finish, which this host still answers); then the host stops
        /// taking requests, waits for the running ones (up to ShutdownTimeout), detaches and
        /// fires host.OnAppDisposing. Attached to an engine it does not own, requests the engine
        /// queued but the host had not taken are answered 502 by the engine: for a handover
        /// without failures start the next host first (hot swap) and wait for Completion.
        /// </summary>
        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) != 0)
            {
                return;
            }
            if (_worker != null && _connection != null)
            {
                // Leave first: the engine routes nothing more here and answers with its drain notice
                // behind every request it sent, which the pump answers; stopping costs no request a 502.
                _leaving = true;
                try
                {
                    _connection.Leave();
                }
                catch (Exception e)
                {
                    _trace.Write("leaving: " + e.Message);
                }
                if (_engine == null && !_inProcess)
                {
                    _completion.Task.Wait(_options.ShutdownTimeout);
                }
            }
            if (_engine != null)
            {
                // SIGTERM: the engine finishes what it has (we keep answering), then removes the region.
                ThreadPool.QueueUserWorkItem(_ => _engine.Stop(_options.ShutdownTimeout + TimeSpan.FromSeconds(5)));
                if (_worker != null)
                {
                    _completion.Task.Wait(_options.ShutdownTimeout + TimeSpan.FromSeconds(5));
                }
            }
            if (_inProcess)
            {
                var stopper = new Thread(() =>
                {
                    try
                    {
                        NativeMethods.hw_stop((int)_options.ShutdownTimeout.TotalMilliseconds);
                    }
                    catch (Exception e)
                    {
                        _trace.Write("hw_stop failed: " + e.Message);
                    }
                });
                stopper.IsBackground = true;
                stopper.Start();
                if (_worker != null)
                {
                    _completion.Task.Wait(_options.ShutdownTimeout + TimeSpan.FromSeconds(5));
                }
                stopper.Join(_options.ShutdownTimeout + TimeSpan.FromSeconds(5));
            }
            _stopping = true;
            if (_worker != null)
            {
                _completion.Task.Wait(_options.ShutdownTimeout + TimeSpan.FromSeconds(5));
            }
            else
            {
                _completion.TrySetResult(HostStopReason.Disposed);
            }
            DetachQuietly();
            if (_engine != null)
            {
                _engine.Dispose();
            }
            try
            {
                _disposing.Cancel();
            }
            catch (Exception e)
            {
                _trace.Write("a host.OnAppDisposing callback threw: " + e.Message);
            }
        }
    }
}
