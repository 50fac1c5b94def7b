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
}
