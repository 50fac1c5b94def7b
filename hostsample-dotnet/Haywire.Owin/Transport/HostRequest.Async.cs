using System;
using System.IO;
using System.Threading;
using System.Threading.Tasks;

namespace Haywire.Owin.Transport
{
    // HostRequest, the pending-call facet: one waiter for pending ReadBodyAsync calls and one for WriteBodyAsync, each a
    // TaskCompletionSource that whoever makes progress completes (the pump: a BODY piece or END; the connection:
    // chunks came back; MarkCancelled; Finish; the caller's token). Continuations run asynchronously, never on the
    // completing thread. The awaiting halves (PendingBodyCalls) then try again, without a thread parked meanwhile.
    internal sealed unsafe partial class HostRequest
    {
        private static readonly Task Done = Task.FromResult(true);

        private TaskCompletionSource<bool> _readWaiter, _writeWaiter; // under _sync

        /// <summary>
        /// A task that completes when a read may find something: a piece, the end, a cancellation, or the end of the
        /// request. Completed at once if that is already so.
        /// </summary>
        internal Task WaitForBodyAsync()
        {
            TaskCompletionSource<bool> t;
            bool counted = true;
            _c.AddAsyncReader(); // counted first: the body pump must see it before any deliverer can complete it
            lock (_sync)
            {
                if (_state == StateCompleted || _goneReason != null || _bodyEnded || _cancelled ||
                    (_pieces != null && _pieces.Count > 0))
                {
                    t = null;
                }
                else if (_readWaiter != null)
                {
                    // Callers should read one at a time; concurrent ones share the wait, wake together and race
                    // for the bytes as blocked ReadBody calls would (the loser waits again).
                    t = _readWaiter;
                    counted = false;
                }
                else
                {
                    t = _readWaiter = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
                }
            }
            if (t == null || !counted)
                _c.RemoveAsyncReader();
            if (t == null)
                return Done;
            Interlocked.Increment(ref _bodyWaits);
            return t.Task;
        }

        /// <summary>A task that completes when this stream's window may have opened, or it can write no more.</summary>
        internal Task WaitForWindowAsync()
        {
            TaskCompletionSource<bool> t;
            Interlocked.Increment(ref _writeStalls);
            lock (_sync)
            {
                if (_goneReason != null || _cancelled || Volatile.Read(ref _state) != StateStreaming)
                    return Done;
                if (_writeWaiter != null)
                    return _writeWaiter.Task; // concurrent writers (not a supported use) share the wait, as reads do
                t = _writeWaiter = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
            }
            _c.AddWindowWaiter(this);
            return t.Task;
        }

        /// <summary>True while a WriteBodyAsync waits for its window.</summary>
        internal bool HasWriteWaiter
        {
            get
            {
                lock (_sync)
                    return _writeWaiter != null;
            }
        }

        private TaskCompletionSource<bool> TakeReadWaiterLocked()
        {
            TaskCompletionSource<bool> t = _readWaiter;
            _readWaiter = null;
            return t;
        }

        private TaskCompletionSource<bool> TakeWriteWaiterLocked()
        {
            TaskCompletionSource<bool> t = _writeWaiter;
            _writeWaiter = null;
            return t;
        }

        /// <summary>Completes a read waiter taken under _sync (call without the lock).</summary>
        private void CompleteRead(TaskCompletionSource<bool> t)
        {
            if (t == null)
                return;
            _c.RemoveAsyncReader();
            t.TrySetResult(true);
        }

        /// <summary>Completes a write waiter taken under _sync (call without the lock).</summary>
        private void CompleteWrite(TaskCompletionSource<bool> t)
        {
            if (t == null)
                return;
            _c.RemoveWindowWaiter(this);
            t.TrySetResult(true);
        }

        /// <summary>Wakes the pending ReadBodyAsync, if any, to look again. Any thread.</summary>
        internal void CompleteReadWaiter()
        {
            TaskCompletionSource<bool> t;
            lock (_sync)
                t = TakeReadWaiterLocked();
            CompleteRead(t);
        }

        /// <summary>Wakes the pending WriteBodyAsync, if any, to try again. Any thread.</summary>
        internal void CompleteWriteWaiter()
        {
            TaskCompletionSource<bool> t;
            lock (_sync)
                t = TakeWriteWaiterLocked();
            CompleteWrite(t);
        }

        /// <summary>
        /// After a read's wait: what a blocked ReadBody sees when woken. 0 once the request was answered (no more
        /// body wanted); IOException when it can go no further (even if the connection was disposed meanwhile);
        /// else the read, -1 when it must wait again.
        /// </summary>
        internal int ReadAfterWait(byte[] buffer, int offset, int count, CancellationToken ct)
        {
            lock (_sync)
            {
                if (_state == StateCompleted)
                    return 0;
                if (_goneReason != null)
                    throw new IOException("haywire: " + _goneReason);
            }
            return ReadBodyCore(buffer, offset, count, ct, false);
        }

        /// <summary>After a write's wait: fails as a blocked WriteBody would when woken, else sends what fits.</summary>
        internal int WriteAfterWait(byte[] buffer, int offset, int count, CancellationToken ct)
        {
            ThrowIfCannotWrite();
            return WriteBodyCore(buffer, offset, count, ct, false);
        }
    }
}
