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
    public sealed partial class OwinHost : IDisposable
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
    }
}
