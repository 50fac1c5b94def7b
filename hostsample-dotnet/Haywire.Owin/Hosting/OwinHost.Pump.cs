using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Threading;
using System.Threading.Tasks;

using Haywire.Owin.Transport;

using AppFunc = System.Func<System.Collections.Generic.IDictionary<string, object>, System.Threading.Tasks.Task>;
namespace Haywire.Owin
{
    // The request pump: one thread takes requests and starts their calls; a watchdog replaces it when an application blocks it.
    public sealed partial class OwinHost
    {
        /// <summary>
        /// The pump thread and its state. State: Idle (in Next or between requests), Running
        /// (inside an application's synchronous part), Retired (the watchdog gave the pump to a
        /// new worker while this one was stuck in an application: it exits when it returns).
        /// </summary>
        private sealed class PumpWorker
        {
            public const int Idle = 0, Running = 1, Retired = 2;
            public int State;
            public long Calls; // inline calls started; the watchdog compares it between ticks
            public long CallsSeen = -1;
            public Thread Thread;
        }

        private void StartWorker()
        {
            var worker = new PumpWorker();
            worker.Thread = new Thread(() => Pump(worker));
            worker.Thread.Name = "haywire pump " + _connection.RegionName;
            worker.Thread.IsBackground = true;
            Volatile.Write(ref _worker, worker);
            worker.Thread.Start();
        }

        /// <summary>
        /// Replaces a pump stuck in one application call for a whole tick, so one blocking
        /// application cannot hold up the requests behind it (or the body pieces its own
        /// synchronous read waits for).
        /// </summary>
        private void Watch(object unused)
        {
            PumpWorker worker = Volatile.Read(ref _worker);
            if (worker == null || Volatile.Read(ref worker.State) != PumpWorker.Running)
            {
                return;
            }
            long calls = Volatile.Read(ref worker.Calls);
            if (calls != worker.CallsSeen)
            {
                worker.CallsSeen = calls;
                return;
            }
            if (Interlocked.CompareExchange(ref worker.State, PumpWorker.Retired, PumpWorker.Running) != PumpWorker.Running)
            {
                return; // it returned meanwhile and keeps pumping
            }
            if (Interlocked.Increment(ref _retirements) >= RetirementsBeforePoolOnly && !_poolOnly)
            {
                _poolOnly = true;
                _trace.Write("the application blocked the request pump " + RetirementsBeforePoolOnly
                    + " times: every request runs on the thread pool from now on");
            }
            StartWorker();
        }

        private void OnCallEnded(OwinCall call)
        {
            if (Interlocked.Decrement(ref _inFlight) == 0)
            {
                _idle.Set();
            }
        }

        private void Pump(PumpWorker worker)
        {
            HostStopReason reason = HostStopReason.Disposed;
            try
            {
                reason = TakeRequests(worker);
                if (reason == HostStopReason.Running)
                {
                    return; // retired: the new worker owns the pump and its ending
                }
                FinishInFlight(reason);
            }
            catch (Exception e)
            {
                _trace.Write("the request pump failed: " + e);
                reason = HostStopReason.EngineGone;
            }
            finally
            {
                if (reason != HostStopReason.Running)
                {
                    Finished(reason);
                }
            }
        }

        /// <summary>
        /// Takes requests until stopped, drained or cut off (returns Running when retired).
        /// The synchronous part of each application call runs here, on the pump thread: a hop
        /// to the thread pool per request costs more than the rest of the host (measured:
        /// pipelined hello world 55k rps with the hop, 100k without). What an application
        /// awaits continues on the thread pool as usual. Requests whose body still streams in
        /// go to the thread pool: a synchronous read there waits for pieces this thread
        /// delivers. An application that blocks anyway is handled by <see cref="Watch"/>.
        /// </summary>
        private HostStopReason TakeRequests(PumpWorker worker)
        {
            HostConnection connection = _connection;
            while (!_stopping)
            {
                HostRequest request;
                try
                {
                    request = connection.Next(100);
                }
                catch (DrainedException)
                {
                    return _leaving ? HostStopReason.Disposed : HostStopReason.Drained;
                }
                catch (HaywireException e)
                {
                    _trace.Write("the engine is gone: " + e.Message);
                    return HostStopReason.EngineGone;
                }
                if (request == null)
                {
                    continue;
                }
                if (Interlocked.Increment(ref _inFlight) == 1)
                {
                    _idle.Reset();
                }
                var call = new OwinCall(_server, request, _onCallEnded);
                if (_poolOnly || request.BodyStreamed)
                {
                    ThreadPool.UnsafeQueueUserWorkItem(RunCall, call);
                    continue;
                }
                worker.Calls++;
                Volatile.Write(ref worker.State, PumpWorker.Running);
                call.Start();
                if (Interlocked.CompareExchange(ref worker.State, PumpWorker.Idle, PumpWorker.Running) != PumpWorker.Running)
                {
                    return HostStopReason.Running; // the watchdog handed the pump to a new worker
                }
            }
            return HostStopReason.Disposed;
        }
    }
}
