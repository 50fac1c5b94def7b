using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Threading;

namespace Haywire.Owin.Transport
{
    // HostConnection, the asynchronous facet: completes pending ReadBodyAsync / WriteBodyAsync calls without a
    // thread per call. Two threads per connection at most, started on first need, serve every pending call:
    //
    //   body pump       holds the pump (ring 0) while async reads wait and nobody else pumps; the pump's
    //                   OnBody completes each read. It gives the pump up as soon as a Next caller waits for it.
    //   release watch   sleeps on ring 3's doorbell while async writes wait for their window; CollectLocked
    //                   (whoever runs it) completes every waiting write when chunks come back.
    //
    // Completion is a TaskCompletionSource created with RunContinuationsAsynchronously, so no application code
    // ever runs on these threads or on the pump (as Kestrel's socket awaitables complete on the I/O thread and
    // schedule the continuation).
    internal sealed unsafe partial class HostConnection
    {
        private readonly object _asyncLock = new object();
        private int _asyncReaders;                                                  // under _asyncLock
        private readonly List<HostRequest> _windowWaiters = new List<HostRequest>(); // under _asyncLock
        private volatile int _windowWaiterCount; // _windowWaiters.Count, for the lock-free look in CollectLocked
        private Thread _bodyPumpThread, _releaseThread;                             // under _asyncLock
        private volatile bool _bodyPumpHolds; // the body pump thread holds the pump

        /// <summary>Async body reads waiting now (tests).</summary>
        internal int AsyncReaders
        {
            get { return Volatile.Read(ref _asyncReaders); }
        }

        /// <summary>Async body writes waiting for their window now (tests).</summary>
        internal int WindowWaiters
        {
            get
            {
                lock (_asyncLock)
                    return _windowWaiters.Count;
            }
        }

        /// <summary>A ReadBodyAsync of some request now waits for the pump: make sure somebody pumps.</summary>
        internal void AddAsyncReader()
        {
            lock (_asyncLock)
            {
                _asyncReaders++;
                if (_bodyPumpThread == null && !_disposed)
                {
                    _bodyPumpThread = new Thread(BodyPumpLoop) { IsBackground = true, Name = "haywire body pump " + _map.Name };
                    _bodyPumpThread.Start();
                }
                Monitor.PulseAll(_asyncLock);
            }
        }

        /// <summary>A pending ReadBodyAsync was completed (the request took its waiter back).</summary>
        internal void RemoveAsyncReader()
        {
            lock (_asyncLock)
                _asyncReaders--;
        }

        /// <summary>Wakes the body pump thread when the pump came free while async reads wait (ReleasePump).</summary>
        private void OnPumpReleasedForAsync()
        {
            if (Volatile.Read(ref _asyncReaders) > 0)
                lock (_asyncLock)
                    Monitor.PulseAll(_asyncLock);
        }

        /// <summary>Next waits for the pump: the body pump thread, if it holds it, gives it up (Next pumps for all).</summary>
        private void YieldBodyPumpToNext()
        {
            if (_bodyPumpHolds)
                _in.DataBell.Interrupt();
        }

        private void BodyPumpLoop()
        {
            try
            {
                while (true)
                {
                    lock (_asyncLock)
                    {
                        // Nothing to do while no async read waits, while another thread holds the pump (it delivers
                        // the pieces), or while a Next caller waits for it (Next pumps for everybody).
                        while (!_disposed && (_asyncReaders == 0 || Volatile.Read(ref _pumpHeld) != 0 ||
                                              Volatile.Read(ref _nextWaiting) > 0 || Volatile.Read(ref _goneReason) != null))
                            Monitor.Wait(_asyncLock, _asyncReaders == 0 ? Timeout.Infinite : (int)_beatMs);
                        if (_disposed)
                            return;
                    }
                    if (!TryEnter())
                        return;
                    try
                    {
                        if (!TryAcquirePump())
                            continue;
                        _bodyPumpHolds = true;
                        try
                        {
                            Func<bool> yield = () => Volatile.Read(ref _asyncReaders) == 0 || Volatile.Read(ref _nextWaiting) > 0;
                            while (!yield() && !_disposed && Volatile.Read(ref _goneReason) == null)
                            {
                                if (Pump() == 0)
                                    IdleWait(Stopwatch.GetTimestamp() + (long)_beatMs * Stopwatch.Frequency / 1000, yield);
                            }
                        }
                        finally
                        {
                            _bodyPumpHolds = false;
                            ReleasePump();
                        }
                    }
                    finally
                    {
                        Exit();
                    }
                }
            }
            catch (Exception e) when (!(e is ThreadAbortException))
            {
                Trace.WriteLine("haywire: body pump: " + e);
                lock (_asyncLock)
                    _bodyPumpThread = null; // the next async read starts another
            }
        }

        /// <summary>
        /// A WriteBodyAsync of r waits for its window (the stream's chunk limit or the arena): register it, then
        /// look again (a release may have come between the failed send and now) and complete it if the window opened.
        /// </summary>
        internal void AddWindowWaiter(HostRequest r)
        {
            lock (_asyncLock)
            {
                _windowWaiters.Add(r);
                _windowWaiterCount = _windowWaiters.Count;
                if (_releaseThread == null && !_disposed)
                {
                    _releaseThread = new Thread(ReleaseWatchLoop) { IsBackground = true, Name = "haywire release watch " + _map.Name };
                    _releaseThread.Start();
                }
                Monitor.PulseAll(_asyncLock);
            }
            if (!TryEnter())
            {
                r.CompleteWriteWaiter();
                return;
            }
            try
            {
                bool open;
                lock (_sendLock)
                {
                    CollectLocked();
                    open = r.LentChunks < StreamChunkLimit && Alloc.FreeCount > 0;
                }
                if (open || Volatile.Read(ref _goneReason) != null)
                    r.CompleteWriteWaiter();
            }
            finally
            {
                Exit();
            }
            if (!r.HasWriteWaiter)
                RemoveWindowWaiter(r); // completed before it was listed: no stale entry keeps the watch awake
        }

        /// <summary>r's pending write was completed (it took its waiter back).</summary>
        internal void RemoveWindowWaiter(HostRequest r)
        {
            lock (_asyncLock)
            {
                _windowWaiters.Remove(r);
                _windowWaiterCount = _windowWaiters.Count;
            }
        }

        /// <summary>Chunks came back (or the connection ends): every waiting write tries again. Any thread.</summary>
        private void WakeWindowWaiters()
        {
            // Without the lock when nobody waits (every collect that freed chunks comes here). Safe: a writer
            // registers first, then looks at the window under the send lock, after any collect that missed it.
            if (_windowWaiterCount == 0)
                return;
            HostRequest[] waiting;
            lock (_asyncLock)
            {
                if (_windowWaiters.Count == 0)
                    return;
                waiting = _windowWaiters.ToArray();
                _windowWaiters.Clear();
                _windowWaiterCount = 0;
            }
            foreach (HostRequest r in waiting)
                r.CompleteWriteWaiter();
        }

        private void ReleaseWatchLoop()
        {
            while (true)
            {
                lock (_asyncLock)
                {
                    while (!_disposed && _windowWaiters.Count == 0)
                        Monitor.Wait(_asyncLock);
                    if (_disposed)
                        return;
                }
                if (Volatile.Read(ref _goneReason) != null)
                {
                    WakeWindowWaiters(); // they fail: the engine is gone
                    lock (_asyncLock)
                        if (!_disposed && _windowWaiters.Count > 0)
                            Monitor.Wait(_asyncLock, (int)_beatMs);
                    continue;
                }
                if (!TryEnter())
                    return;
                try
                {
                    // The one sleeper on ring 3's bell (or, if a blocking writer sleeps there, a waiter for its news),
                    // for a heartbeat at most; then take the releases back, which completes the waiting writes.
                    AwaitReleases(Stopwatch.GetTimestamp() + (long)_beatMs * Stopwatch.Frequency / 1000);
                    Collect();
                }
                catch (Exception e) when (!(e is ThreadAbortException))
                {
                    Trace.WriteLine("haywire: release watch: " + e);
                }
                finally
                {
                    Exit();
                }
            }
        }

        /// <summary>Dispose and MarkGone: the helper threads leave their waits, every pending write fails.</summary>
        private void WakeAsyncHelpers()
        {
            lock (_asyncLock)
                Monitor.PulseAll(_asyncLock);
            WakeWindowWaiters();
        }
    }
}
