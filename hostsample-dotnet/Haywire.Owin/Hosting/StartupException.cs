using System;

namespace Haywire.Owin
{
    /// <summary>The application's entry could not be found or run.</summary>
    public sealed class StartupException : Exception
    {
        public StartupException(string message)
            : base(message)
        {
        }

        public StartupException(string message, Exception inner)
            : base(message, inner)
        {
        }
    }
}
