using System;
using System.IO;

namespace Haywire.Owin
{
    /// <summary>A line-oriented writer to the host's trace output that never throws.</summary>
    internal sealed class ServerTrace
    {
        private readonly TextWriter _writer;

        public ServerTrace(TextWriter writer)
        {
            _writer = writer;
        }

        public void Write(string line)
        {
            try
            {
                _writer.WriteLine("haywire.owin: " + line);
            }
            catch (Exception)
            {
                // Tracing must not fail the host.
            }
        }
    }
}
