using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;
using System.Threading;
using Haywire.Owin.Transport.Bridge;
using Haywire.Owin.Transport.Shm;

namespace Haywire.Owin.Transport
{
    // HostConnection, the sending facet: responses and body pieces on ring 1 in chunks of arena 1, releases back on ring 3.
    internal sealed unsafe partial class HostConnection
    {
        // ------------------------------------------------------------------ sending (ring 1, arena 1, ring 3)

        /// <summary>
        /// Sends a response message for stream: the head (built from the arguments) then body[offset, offset+count),
        /// as RESPONSE parts, the last flagged END. owner (may be null) is charged for nothing: a whole message's
        /// chunks are the engine's to release at its pace.
        /// </summary>
        internal void SendResponse(HostRequest owner, ulong stream, uint conn, int status, string reason,
                                   IList<KeyValuePair<string, string>> headers, byte[] body, int offset, int count,
                                   byte flags, long contentLength)
        {
            byte[] head;
            int headLen = ResponseEncoder.EncodeHead(status, flags, reason, headers, contentLength, out head);
            long total = (long)headLen + count;
            uint cs = Alloc.ChunkSize;
            lock (_sendLock)
            {
                long pos = 0;
                int partsLeft = (int)Math.Max(1, (total + cs - 1) / cs);
                while (partsLeft > 0)
                {
                    int k = Math.Min(partsLeft, _sendBatch);
                    ReserveLocked(k, k);
                    for (int j = 0; j < k; j++)
                    {
                        uint gen;
                        int idx = Alloc.Alloc(out gen);
                        byte* dst = _arena1 + (long)idx * cs;
                        int len = (int)Math.Min(cs, total - pos);
                        CopyMessage(dst, pos, len, head, headLen, body, offset);
                        pos += len;
                        bool last = partsLeft - j == 1;
                        var d = new Descriptor
                        {
                            Kind = ShmLayout.KindResponse,
                            Flags = last ? ShmLayout.DfEnd : ShmLayout.DfMore,
                            Epoch = _epoch,
                            Stream = stream,
                            Conn = conn,
                            Offset = (uint)((long)idx * cs),
                            Length = (uint)len,
                            Gen = gen,
                        };
                        d.Write(_out.Slot(j));
                        Alloc.Lend(idx, null);
                    }
                    CommitOutLocked(k);
                    partsLeft -= k;
                }
            }
        }

        // ------------------------------------------------------------------ deferred doorbells

        /// <summary>
        /// When set (OwinHost's pump), the thread that took its request from Next publishes on rings 1 and 2
        /// without ringing the engine's doorbell while more requests wait in the ready queue: the pump answers
        /// them next, and the last response of the batch (or Next finding the queue empty, or the heartbeat)
        /// rings once for all. An engine woken per response costs a context switch each on a shared CPU.
        /// </summary>
        internal bool DeferWakesOnNextThread;

        private int _deferThread;              // the managed id of the thread Next last handed a request to
        private int _outWakeOwed, _relWakeOwed; // 1: slots were published on ring 1 / ring 2 without a doorbell

        private bool DeferWake()
        {
            return Volatile.Read(ref _readyCount) > 0 && _deferThread == Thread.CurrentThread.ManagedThreadId;
        }

        /// <summary>Publishes k slots of ring 1 (send lock held), ringing the doorbell unless deferred.</summary>
        private void CommitOutLocked(int k)
        {
            if (DeferWake())
            {
                _out.Publish(k);
                Volatile.Write(ref _outWakeOwed, 1);
            }
            else if (_out.Commit(k))
            {
                Count(ShmLayout.CounterWakeups);
            }
        }

        /// <summary>Rings the doorbells owed for deferred publications. Any thread.</summary>
        internal void FlushWakes()
        {
            if (Volatile.Read(ref _outWakeOwed) != 0 && Interlocked.Exchange(ref _outWakeOwed, 0) != 0 && _out.DataBell.Wake())
                Count(ShmLayout.CounterWakeups);
            if (Volatile.Read(ref _relWakeOwed) != 0 && Interlocked.Exchange(ref _relWakeOwed, 0) != 0 && _relOut.DataBell.Wake())
                Count(ShmLayout.CounterWakeups);
        }

        /// <summary>True while publications on ring 1 or 2 wait for a deferred doorbell (tests).</summary>
        internal bool WakeOwed
        {
            get { return Volatile.Read(ref _outWakeOwed) != 0 || Volatile.Read(ref _relWakeOwed) != 0; }
        }

        /// <summary>Copies bytes [pos, pos+len) of the message head ++ body into dst.</summary>
        private static void CopyMessage(byte* dst, long pos, int len, byte[] head, int headLen, byte[] body, int bodyOffset)
        {
            int done = 0;
            if (pos < headLen)
            {
                int n = (int)Math.Min(len, headLen - pos);
                ByteCopy.Copy(head, (int)pos, dst, n);
                done = n;
            }
            if (done < len)
                ByteCopy.Copy(body, bodyOffset + (int)(pos + done - headLen), dst + done, len - done);
        }

        /// <summary>
        /// Sends up to count bytes of a streamed body as BODY pieces, within the stream's chunk limit. Returns the
        /// bytes sent, 0 when the stream or the arena has no room now (the caller waits with AwaitReleases).
        /// </summary>
        internal int SendBodyPieces(HostRequest r, byte[] buffer, int offset, int count)
        {
            uint cs = Alloc.ChunkSize;
            lock (_sendLock)
            {
                if (r.LentChunks >= StreamChunkLimit || Alloc.FreeCount == 0)
                    CollectLocked();
                int pieces = (int)Math.Min(((long)count + cs - 1) / cs, StreamChunkLimit - r.LentChunks);
                pieces = Math.Min(Math.Min(pieces, Alloc.FreeCount), _sendBatch);
                if (pieces <= 0)
                    return 0;
                ReserveLocked(pieces, 0);
                int sent = 0;
                for (int j = 0; j < pieces; j++)
                {
                    uint gen;
                    int idx = Alloc.Alloc(out gen);
                    int len = (int)Math.Min(cs, count - sent);
                    ByteCopy.Copy(buffer, offset + sent, _arena1 + (long)idx * cs, len);
                    var d = new Descriptor
                    {
                        Kind = ShmLayout.KindBody,
                        Epoch = _epoch,
                        Stream = r.RequestId,
                        Conn = r.Conn,
                        Offset = (uint)((long)idx * cs),
                        Length = (uint)len,
                        Gen = gen,
                    };
                    d.Write(_out.Slot(j));
                    Alloc.Lend(idx, r);
                    r.LentChunks++;
                    sent += len;
                }
                CommitOutLocked(pieces);
                return sent;
            }
        }

        /// <summary>Sends a descriptor without payload (END, CONTINUE, CANCEL) on stream.</summary>
        internal void SendControl(byte kind, ushort aux, ulong stream, uint conn)
        {
            lock (_sendLock)
            {
                ReserveLocked(1, 0);
                var d = new Descriptor { Kind = kind, Aux = aux, Epoch = _epoch, Stream = stream, Conn = conn };
                d.Write(_out.Slot(0));
                CommitOutLocked(1);
            }
        }

        /// <summary>
        /// With the send lock held: waits until slots ring slots and chunks free chunks are available (taking
        /// releases back meanwhile), or throws when the engine is gone or this connection disposed.
        /// </summary>
        private void ReserveLocked(int slots, int chunks)
        {
            while (true)
            {
                ThrowIfUnusable();
                if (Alloc.FreeCount < chunks)
                    CollectLocked();
                if (Alloc.FreeCount < chunks)
                {
                    Count(ShmLayout.CounterArenaFull);
                    AwaitReleases(long.MaxValue);
                    continue;
                }
                int got = _out.Reserve(slots);
                if (got < 0)
                {
                    MarkGone("the engine broke the protocol: ring 1's head index is corrupt");
                    continue;
                }
                if (got >= slots)
                    return;
                Count(ShmLayout.CounterRingFull);
                WaitRingSpace();
            }
        }

        private void ThrowIfUnusable()
        {
            if (_disposed)
                throw new ObjectDisposedException("HostConnection");
            string gone = Volatile.Read(ref _goneReason);
            if (gone != null)
                throw new System.IO.IOException("haywire: " + gone);
        }

        /// <summary>With the send lock held (we are ring 1's only producer): sleep on its space bell a while.</summary>
        private void WaitRingSpace()
        {
            Bell bell = _out.SpaceBell;
            uint s = bell.Arm();
            if (_out.HasSpace() || _disposed || Volatile.Read(ref _goneReason) != null)
            {
                bell.Disarm();
                return;
            }
            Count(ShmLayout.CounterSleeps);
            if (bell.Sleep(s, (long)_beatMs * 1000000L))
                Count(ShmLayout.CounterSleepTimeouts);
        }

        /// <summary>Takes back the chunks the engine released (ring 3). Send lock held.</summary>
        private int CollectLocked()
        {
            int freed = 0;
            while (true)
            {
                int n = _relIn.Available(PumpBatch);
                if (n < 0)
                {
                    Count(ShmLayout.CounterInvalid);
                    MarkGone("the engine broke the protocol: ring 3's tail index is corrupt");
                    break;
                }
                if (n == 0)
                    break;
                for (int i = 0; i < n; i++)
                {
                    Descriptor d = Descriptor.Read(_relIn.Slot(i));
                    int rc = d.Check(ShmLayout.RoleRelease, Alloc.ArenaSize, Alloc.ChunkSize, _epoch, _epoch);
                    if (rc == Descriptor.EStale)
                    {
                        Count(ShmLayout.CounterStale);
                        continue;
                    }
                    HostRequest owner;
                    if (rc != Descriptor.Ok || !Alloc.Return(d.Offset, d.Gen, out owner))
                    {
                        Count(ShmLayout.CounterInvalid);
                        continue;
                    }
                    if (owner != null)
                        owner.LentChunks--;
                    freed++;
                }
                if (_relIn.Consume(n))
                    Count(ShmLayout.CounterWakeups);
            }
            if (freed > 0)
            {
                Interlocked.Increment(ref _relGen);
                lock (_relMon)
                    Monitor.PulseAll(_relMon);
                WakeWindowWaiters();
            }
            return freed;
        }

        /// <summary>Collects releases now (taking the send lock); for writers waiting on their stream's limit.</summary>
        internal void Collect()
        {
            lock (_sendLock)
                CollectLocked();
        }

        /// <summary>
        /// Waits until the engine releases some of our chunks, a heartbeat passes, or deadline. One waiter sleeps
        /// on ring 3's bell (the protocol's one sleeper per bell); the others wait for it to say releases came.
        /// </summary>
        internal void AwaitReleases(long deadline)
        {
            long gen = Volatile.Read(ref _relGen);
            if (Interlocked.CompareExchange(ref _relSleeper, 1, 0) == 0)
            {
                try
                {
                    Bell bell = _relIn.DataBell;
                    uint s = bell.Arm();
                    if (_relIn.HasData() || _disposed || Volatile.Read(ref _goneReason) != null || Volatile.Read(ref _relGen) != gen)
                    {
                        bell.Disarm();
                        return;
                    }
                    Count(ShmLayout.CounterSleeps);
                    long ns = (long)SliceMs(deadline) * 1000000L;
                    if (bell.Sleep(s, ns))
                        Count(ShmLayout.CounterSleepTimeouts);
                }
                finally
                {
                    Volatile.Write(ref _relSleeper, 0);
                    Interlocked.Increment(ref _relGen);
                    lock (_relMon)
                        Monitor.PulseAll(_relMon);
                }
            }
            else
            {
                lock (_relMon)
                    if (Volatile.Read(ref _relGen) == gen && !_disposed && Volatile.Read(ref _goneReason) == null)
                        Monitor.Wait(_relMon, SliceMs(deadline));
            }
        }
    }
}
