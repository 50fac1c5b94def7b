using System.Threading;

namespace Haywire.Owin.Transport.Shm
{
    /// <summary>
    /// A doorbell of haywire_shm.h section 8: seq is the futex word, sleeping the sleeper's flag. The handshake
    /// is Dekker's with seq_cst on both sides; in .NET that takes Interlocked (a full fence), not Volatile.
    /// </summary>
    internal unsafe struct Bell
    {
        public readonly uint* Seq;
        public readonly uint* Sleeping;

        public Bell(byte* block)
        {
            Seq = (uint*)(block + ShmLayout.BellSeqOffset);
            Sleeping = (uint*)(block + ShmLayout.BellSleepingOffset);
        }

        /// <summary>Waker's half, right after a seq_cst publishing store. True if it made the wake syscall.</summary>
        public bool Wake()
        {
            if (Volatile.Read(ref *Sleeping) != 0 && Interlocked.Exchange(ref *(int*)Sleeping, 0) != 0)
            {
                Interlocked.Increment(ref *(int*)Seq);
                NativeMethods.FutexWakeAll(Seq);
                return true;
            }
            return false;
        }

        /// <summary>Wakes the sleeper whatever its flag says (shutdown, detach, peer death).</summary>
        public void Interrupt()
        {
            Interlocked.Increment(ref *(int*)Seq);
            NativeMethods.FutexWakeAll(Seq);
        }

        /// <summary>Sleeper's half, part 1: the seq value to wait on. Call Arm, re-check the ring, then Sleep.</summary>
        public uint Arm()
        {
            uint s = Volatile.Read(ref *Seq);
            Interlocked.Exchange(ref *(int*)Sleeping, 1); // seq_cst store: ordered before the ring re-check
            return s;
        }

        /// <summary>Sleeper's half, part 2: futex-wait while seq is s. Returns true on timeout.</summary>
        public bool Sleep(uint s, long timeoutNs)
        {
            bool timedOut = NativeMethods.FutexWaitOn(Seq, s, timeoutNs);
            Disarm();
            return timedOut;
        }

        public void Disarm()
        {
            Interlocked.Exchange(ref *(int*)Sleeping, 0);
        }
    }
}
