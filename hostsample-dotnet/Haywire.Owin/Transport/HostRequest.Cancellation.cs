using System;
using System.Threading;
using System.Threading.Tasks;

namespace Haywire.Owin.Transport
{
    // HostRequest, the cancellation facet: the client-gone notice, Cancelled and the CancellationToken.
    internal sealed unsafe partial class HostRequest
    {
        private CancellationTokenSource _cts;

        /// <summary>
        /// True once the engine said the client went away (it closed the connection, or only its sending side),
        /// or the engine died. The request must still be answered.
        /// </summary>
        public bool Cancelled { get { return _cancelled; } }

        /// <summary>Cancelled when Cancelled turns true. Callbacks run on the thread pool, never on the pump.</summary>
        public CancellationToken CancellationToken
        {
            get
            {
                lock (_sync)
                {
                    if (_cancelled)
                        return new CancellationToken(true);
                    if (_cts == null)
                        _cts = new CancellationTokenSource();
                    return _cts.Token;
                }
            }
        }

        /// <summary>The client went away (reason null) or the request can go no further (reason says why).</summary>
        internal void MarkCancelled(string reason)
        {
            CancellationTokenSource cts = null;
            TaskCompletionSource<bool> reader, writer;
            lock (_sync)
            {
                if (reason != null && _goneReason == null)
                    _goneReason = reason;
                if (!_cancelled)
                {
                    _cancelled = true;
                    cts = _cts;
                }
                if (_waiters > 0)
                    Monitor.PulseAll(_sync);
                reader = TakeReadWaiterLocked();
                writer = TakeWriteWaiterLocked();
            }
            CompleteRead(reader);
            CompleteWrite(writer);
            if (cts != null)
                ThreadPool.QueueUserWorkItem(CancelSource, cts);
        }

        private static void CancelSource(object cts)
        {
            try
            {
                ((CancellationTokenSource)cts).Cancel();
            }
            catch (AggregateException)
            {
                // A callback of the application threw: theirs to log; the pool must not die of it.
            }
        }
    }
}
