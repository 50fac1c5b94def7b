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
    // Stopping: drained, engine gone or disposed; the requests in flight are finished, then the host detaches.
    public sealed partial class OwinHost
    {
        private void Finished(HostStopReason reason)
        {
            Timer watchdog = Interlocked.Exchange(ref _watchdog, null);
            if (watchdog != null)
            {
                watchdog.Dispose();
            }
            DetachQuietly();
            if (reason != HostStopReason.Disposed)
            {
                _trace.Write(reason == HostStopReason.Drained
                    ? "a newer host took over: every request answered, detached"
                    : "the engine went away: detached");
            }
            _completion.TrySetResult(reason);
        }

        /// <summary>
        /// Lets the requests in flight finish, still pumping the region meanwhile: their
        /// body pieces, cancellations and the chunks the engine gives back arrive there.
        /// </summary>
        private void FinishInFlight(HostStopReason reason)
        {
            if (reason == HostStopReason.EngineGone)
            {
                // Their tokens fired; their answers go nowhere. Give them a moment to see it.
                _idle.Wait(TimeSpan.FromSeconds(1));
                return;
            }
            DateTime deadline = DateTime.UtcNow + _options.ShutdownTimeout;
            while (Volatile.Read(ref _inFlight) > 0 && DateTime.UtcNow < deadline)
            {
                try
                {
                    HostRequest late = _connection.Next(20);
                    if (late != null)
                    {
                        // Taken before the drain notice: serve it like the others.
                        if (Interlocked.Increment(ref _inFlight) == 1)
                        {
                            _idle.Reset();
                        }
                        ThreadPool.UnsafeQueueUserWorkItem(RunCall, new OwinCall(_server, late, _onCallEnded));
                    }
                }
                catch (DrainedException)
                {
                    _idle.Wait(20);
                }
                catch (HaywireException)
                {
                    _idle.Wait(TimeSpan.FromSeconds(1));
                    return;
                }
            }
            if (Volatile.Read(ref _inFlight) > 0)
            {
                _trace.Write(Volatile.Read(ref _inFlight) + " requests still running after " + _options.ShutdownTimeout.TotalSeconds
                    + " s: detaching without them");
            }
        }

        private void DetachQuietly()
        {
            HostConnection connection = Interlocked.Exchange(ref _connection, null);
            if (connection == null)
            {
                return;
            }
            try
            {
                connection.Dispose();
            }
            catch (Exception e)
            {
                _trace.Write("detaching failed: " + e.Message);
            }
        }

        /// <summary>Blocks until the host stops (drained, engine gone, disposed) or timeout passes.</summary>
        public bool WaitForStop(TimeSpan timeout)
        {
            return _completion.Task.Wait(timeout);
        }

        /// <summary>
        /// Stops serving: a launched or in-process engine is stopped gracefully first (it lets
        /// requests in flight finish, which this host still answers); then the host stops
        /// taking requests, waits for the running ones (up to ShutdownTimeout), detaches and
        /// fires host.OnAppDisposing. Attached to an engine it does not own, requests the engine
        /// queued but the host had not taken are answered 502 by the engine: for a handover
        /// without failures start the next host first (hot swap) and wait for Completion.
        /// </summary>
        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) != 0)
            {
                return;
            }
            if (_worker != null && _connection != null)
            {
                // Leave first: the engine routes nothing more here and answers with its drain notice
                // behind every request it sent, which the pump answers; stopping costs no request a 502.
                _leaving = true;
                try
                {
                    _connection.Leave();
                }
                catch (Exception e)
                {
                    _trace.Write("leaving: " + e.Message);
                }
                if (_engine == null && !_inProcess)
                {
                    _completion.Task.Wait(_options.ShutdownTimeout);
                }
            }
            if (_engine != null)
            {
                // SIGTERM: the engine finishes what it has (we keep answering), then removes the region.
                ThreadPool.QueueUserWorkItem(_ => _engine.Stop(_options.ShutdownTimeout + TimeSpan.FromSeconds(5)));
                if (_worker != null)
                {
                    _completion.Task.Wait(_options.ShutdownTimeout + TimeSpan.FromSeconds(5));
                }
            }
            if (_inProcess)
            {
                var stopper = new Thread(() =>
                {
                    try
                    {
                        NativeMethods.hw_stop((int)_options.ShutdownTimeout.TotalMilliseconds);
                    }
                    catch (Exception e)
                    {
                        _trace.Write("hw_stop failed: " + e.Message);
                    }
                });
                stopper.IsBackground = true;
                stopper.Start();
                if (_worker != null)
                {
                    _completion.Task.Wait(_options.ShutdownTimeout + TimeSpan.FromSeconds(5));
                }
                stopper.Join(_options.ShutdownTimeout + TimeSpan.FromSeconds(5));
            }
            _stopping = true;
            if (_worker != null)
            {
                _completion.Task.Wait(_options.ShutdownTimeout + TimeSpan.FromSeconds(5));
            }
            else
            {
                _completion.TrySetResult(HostStopReason.Disposed);
            }
            DetachQuietly();
            if (_engine != null)
            {
                _engine.Dispose();
            }
            try
            {
                _disposing.Cancel();
            }
            catch (Exception e)
            {
                _trace.Write("a host.OnAppDisposing callback threw: " + e.Message);
            }
        }
    }
}
