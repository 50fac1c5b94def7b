using System;

namespace Haywire.Owin.Transport
{
    /// <summary>
    /// A failure of the shared-memory transport: attach refused, region closed, engine dead. Public: OwinHost.Attach
    /// lets it through to the caller (the rest of the transport is internal).
    /// </summary>
    public class HaywireException : Exception
    {
        public HaywireException(string message) : base(message) { }
        public HaywireException(string message, Exception inner) : base(message, inner) { }
    }
}
