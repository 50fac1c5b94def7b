using System;
using System.Collections.Generic;
using System.IO;

namespace Haywire.Owin
{
    /// <summary>Settings of an <see cref="OwinHost"/>. Every property has a working default.</summary>
    public sealed class OwinHostOptions
    {
        public OwinHostOptions()
        {
            PathBase = "";
            AttachTimeout = TimeSpan.FromSeconds(5);
            ShutdownTimeout = TimeSpan.FromSeconds(10);
            EngineStartTimeout = TimeSpan.FromSeconds(10);
            EngineArguments = new List<string>();
        }

        /// <summary>
        /// Directory of the region files; null (default) = /dev/shm, else the temporary
        /// directory. Must match the engine's --region-dir.
        /// </summary>
        public string RegionDir { get; set; }

        /// <summary>
        /// The base path the application is mounted at (owin.RequestPathBase), "" (default)
        /// for the root. Requests outside it are answered 404 without calling the application.
        /// </summary>
        public string PathBase { get; set; }

        /// <summary>How long attaching waits for a free lane of the region. Default 5 s.</summary>
        public TimeSpan AttachTimeout { get; set; }

        /// <summary>How long Dispose waits for requests in flight to finish. Default 10 s.</summary>
        public TimeSpan ShutdownTimeout { get; set; }

        /// <summary>
        /// Launch: the engine launcher to run. Default null: $HAYWIRE_BUILD_DIR/haywire, else
        /// "haywire" in the directory above Haywire.Owin.dll (build/dotnet/../haywire), else in
        /// Haywire.Owin.dll's own directory, else "haywire" on the PATH.
        /// </summary>
        public string EnginePath { get; set; }

        /// <summary>Launch: extra launcher flags, e.g. "--threads", "2". Default none.</summary>
        public IList<string> EngineArguments { get; set; }

        /// <summary>Launch: how long to wait for the launcher to print its region and address. Default 10 s.</summary>
        public TimeSpan EngineStartTimeout { get; set; }

        /// <summary>
        /// False (default): the pump thread runs each request's synchronous part itself and
        /// what the application awaits continues on the thread pool; requests with a streamed
        /// body, and every request once the application blocked the pump three times (more
        /// than 50-100 ms in one call), start on the thread pool. True: every request starts
        /// on the thread pool (one thread hop each; for applications that block in their
        /// synchronous part, e.g. synchronous database calls).
        /// </summary>
        public bool DispatchToThreadPool { get; set; }

        /// <summary>host.TraceOutput: where the host reports application failures. Default: standard error.</summary>
        public TextWriter TraceOutput { get; set; }
    }
}
