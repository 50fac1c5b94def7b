namespace Haywire.Owin.Transport
{
    /// <summary>
    /// Thrown by <see cref="HostConnection.Next"/> once the engine asked this host to drain (a newer host took
    /// over, or the engine answered <see cref="HostConnection.Leave"/>) and every request it had sent was handed
    /// out. Answer the requests still in flight, then dispose.
    /// </summary>
    internal sealed class DrainedException : HaywireException
    {
        public DrainedException(string message) : base(message) { }
    }
}
