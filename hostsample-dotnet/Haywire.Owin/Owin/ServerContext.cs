using System;
using System.Collections.Generic;
using System.IO;
using System.Threading;
using System.Threading.Tasks;

using AppFunc = System.Func<System.Collections.Generic.IDictionary<string, object>, System.Threading.Tasks.Task>;

namespace Haywire.Owin
{
    /// <summary>
    /// What every request of one host shares: the application, the startup
    /// properties and the objects the environment hands out by reference
    /// (capabilities, trace output, addresses, the disposing token).
    /// Immutable after construction except for the application, set once built.
    /// </summary>
    internal sealed class ServerContext
    {
        public const string ServerName = "Haywire.Owin";

        public ServerContext(string pathBase, TextWriter traceOutput, IList<IDictionary<string, object>> addresses,
            CancellationToken appDisposing)
        {
            PathBase = PathDecoder.NormalizeBase(pathBase);
            TraceOutput = traceOutput ?? TextWriter.Synchronized(Console.Error);
            Addresses = addresses ?? new List<IDictionary<string, object>>();
            AppDisposing = appDisposing;
            BoxedAppDisposing = appDisposing;

            Capabilities = new Dictionary<string, object>(StringComparer.Ordinal)
            {
                { OwinKeys.ServerName, ServerName },
                { "server.Version", typeof(ServerContext).Assembly.GetName().Version.ToString() },
                { OwinKeys.SendFileVersion, "1.0" },
            };
            // No "sendfile.Support": it would be empty (no overlapped sends).

            Properties = new Dictionary<string, object>(StringComparer.Ordinal)
            {
                { OwinKeys.Version, OwinKeys.OwinVersion },
                { OwinKeys.Capabilities, Capabilities },
                { OwinKeys.TraceOutput, TraceOutput },
                { OwinKeys.Addresses, Addresses },
                { OwinKeys.OnAppDisposing, BoxedAppDisposing },
            };
        }

        /// <summary>The base path requests must lie under: "" or "/x" (normalised).</summary>
        public readonly string PathBase;
        public readonly TextWriter TraceOutput;
        public readonly IList<IDictionary<string, object>> Addresses;
        public readonly CancellationToken AppDisposing;
        public readonly object BoxedAppDisposing;
        public readonly IDictionary<string, object> Capabilities;
        public readonly IDictionary<string, object> Properties;

        /// <summary>The application; set once, before the first request.</summary>
        public AppFunc App;

        /// <summary>Writes one line to the trace output, never throwing.</summary>
        public void Trace(string message)
        {
            try
            {
                TraceOutput.WriteLine("haywire.owin: " + message);
            }
            catch (Exception)
            {
                // A broken trace writer must not fail requests.
            }
        }
    }
}
