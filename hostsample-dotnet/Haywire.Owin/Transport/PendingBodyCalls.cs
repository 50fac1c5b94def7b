using System.Threading;
using System.Threading.Tasks;

namespace Haywire.Owin.Transport
{
    /// <summary>
    /// The awaiting halves of <see cref="HostRequest.ReadBodyAsync"/> and <see cref="HostRequest.WriteBodyAsync"/>,
    /// entered only when the first, synchronous attempt found nothing to read or no room to write. They wait without
    /// holding a thread (see HostRequest.Async.cs for who completes the waits), then try again. A type of their own
    /// because C# allows no await inside HostRequest, an unsafe class.
    /// </summary>
    internal static class PendingBodyCalls
    {
        private static readonly System.Action<object> WakeReader = s => ((HostRequest)s).CompleteReadWaiter();
        private static readonly System.Action<object> WakeWriter = s => ((HostRequest)s).CompleteWriteWaiter();

        /// <summary>Waits until the pump delivers a piece or the end, the request is cancelled or ended, or ct fires.</summary>
        public static async Task<int> ReadAsync(HostRequest r, byte[] buffer, int offset, int count, CancellationToken ct)
        {
            while (true)
            {
                ct.ThrowIfCancellationRequested();
                Task wait = r.WaitForBodyAsync();
                if (!wait.IsCompleted)
                {
                    using (ct.Register(WakeReader, r))
                        await wait.ConfigureAwait(false);
                }
                int n = r.ReadAfterWait(buffer, offset, count, ct);
                if (n >= 0)
                    return n;
            }
        }

        /// <summary>Waits until the engine gives chunks back, the request is cancelled or ended, or ct fires; repeats until all is sent.</summary>
        public static async Task WriteAsync(HostRequest r, byte[] buffer, int offset, int count, CancellationToken ct)
        {
            while (true)
            {
                ct.ThrowIfCancellationRequested();
                Task wait = r.WaitForWindowAsync();
                if (!wait.IsCompleted)
                {
                    using (ct.Register(WakeWriter, r))
                        await wait.ConfigureAwait(false);
                }
                int n = r.WriteAfterWait(buffer, offset, count, ct);
                offset += n;
                count -= n;
                if (count == 0)
                    return;
            }
        }
    }
}
