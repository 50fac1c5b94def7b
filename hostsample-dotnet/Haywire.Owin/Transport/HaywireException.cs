using System;

namespace Haywire.Owin.Transport
{
    /// <summary>A failure of the shared-memory transport: attach refused, region closed, engine dead.</summary>
    public class HaywireException : Exception
    {
        public HaywireException(string message) : base(message) { }
        public HaywireException(string message, Exception inner) : base(message, inner) { }
    }
}
