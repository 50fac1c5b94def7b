using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Threading;
using Haywire.Owin.Transport.Shm;

namespace Haywire.Owin.Transport
{
    // HostConnection, the attaching facet: choosing a lane, mapping it, claiming side 1 (haywire_shm.h sections 1, 9).
    internal sealed unsafe partial class HostConnection
    {
        /// <summary>
        /// Attaches to the engine whose lane-0 region name is regionName, on the first lane whose host side is free
        /// (haywire_shm.h section 1, "Choosing a lane"), scanning again until attachTimeout passes while every lane
        /// is taken. A name with a lane suffix (haywire-UUID.K) attaches to that lane only. regionDir null: /dev/shm
        /// then the temp directory.
        /// </summary>
        /// <exception cref="HaywireException">No such region, not a region name, a file that is not a private
        /// regular file, a bad magic, version or layout, or every lane taken; the message says which, with values.</exception>
        private static long _busyScans;

        /// <summary>Attach passes that found every lane taken, by any Attach of this process (tests).</summary>
        internal static long BusyScans
        {
            get { return Interlocked.Read(ref _busyScans); }
        }

        public static HostConnection Attach(string regionName, string regionDir, TimeSpan attachTimeout)
        {
            var uuid = new byte[16];
            int lane;
            if (!RegionNames.TryParse(regionName, uuid, out lane))
                throw new HaywireException("not a region name: \"" + regionName + "\" (want haywire-<lowercase uuid>, as the engine prints it)");
            if (!BitConverter.IsLittleEndian)
                throw new HaywireException("the region layout is little-endian; this machine is not");
            List<string> dirs = RegionMapping.Directories(regionDir);
            long deadline = Stopwatch.GetTimestamp() + (long)(attachTimeout.TotalSeconds * Stopwatch.Frequency);
            int pauseMs = 1;
            while (true)
            {
                string busy;
                HostConnection c = lane != 0 ? TryLane(regionName, dirs, -1, out busy) : ScanLanes(regionName, dirs, out busy);
                if (c != null)
                {
                    c._beatThread.Start();
                    // A NOP wakes the engine, which then routes new requests to us at once
                    // rather than at its next look at the lanes (haywire_bridge.h section 1).
                    c.SendControl(ShmLayout.KindNop, 0, 0, 0);
                    return c;
                }
                Interlocked.Increment(ref _busyScans);
                busy = StripLanes(busy);
                long left = deadline - Stopwatch.GetTimestamp();
                if (left <= 0)
                    throw new HaywireException("cannot attach: " + busy);
                Thread.Sleep((int)Math.Max(1, Math.Min(pauseMs, left * 1000 / Stopwatch.Frequency)));
                pauseMs = Math.Min(2 * pauseMs, 20);
            }
        }

        /// <summary>One pass over the lanes of baseName: the first claimed lane, or null with busy saying why.</summary>
        private static HostConnection ScanLanes(string baseName, List<string> dirs, out string busy)
        {
            int lanes = 1; // until lane 0's header says
            var taken = new List<string>();
            for (int k = 0; k < lanes; k++)
            {
                string why;
                HostConnection c;
                try
                {
                    c = TryLane(RegionNames.Lane(baseName, k), dirs, k == 0 ? -1 : lanes, out why);
                }
                catch (RegionNotFoundException) when (k > 0)
                {
                    taken.Add("lane " + k + ": not found"); // the engine is closing its lanes
                    continue;
                }
                if (c != null)
                {
                    busy = null;
                    return c;
                }
                if (k == 0)
                    lanes = LanesOf(why);
                taken.Add("lane " + k + ": " + StripLanes(why));
            }
            busy = (lanes == 1 ? "the only lane of " + baseName + " is" : "all " + lanes + " lanes of " + baseName + " are") +
                   " taken (" + string.Join("; ", taken) + ")";
            return null;
        }

        // TryLane reports a busy lane 0 as "lanes=N|text" so the scan learns the lane count without a second map.
        private static int LanesOf(string why)
        {
            int bar = why.IndexOf('|');
            int n;
            return bar > 6 && int.TryParse(why.Substring(6, bar - 6), out n) ? Math.Max(1, n) : 1;
        }

        private static string StripLanes(string why)
        {
            int bar = why.IndexOf('|');
            return bar >= 0 && why.StartsWith("lanes=", StringComparison.Ordinal) ? why.Substring(bar + 1) : why;
        }

        /// <summary>
        /// Maps lane name, checks its lane count (expectLanes, -1: none), and claims side 1. Returns the connection,
        /// or null with busy set when the side is taken. Throws for anything else.
        /// </summary>
        private static HostConnection TryLane(string name, List<string> dirs, int expectLanes, out string busy)
        {
            busy = null;
            RegionMapping map = RegionMapping.Open(name, dirs);
            try
            {
                byte* b = map.Base;
                uint lanes = *(uint*)(b + ShmLayout.LanesOffset);
                if (lanes == 0)
                    lanes = 1; // a first version-1 region: one lane
                if (expectLanes >= 0 && lanes != (uint)expectLanes)
                    throw new HaywireException("invalid region layout: " + name + " records " + lanes + " lanes, lane 0 records " +
                                               expectLanes + " (" + map.Path + ")");
                int pid = Shm.NativeMethods.GetPid();
                uint epoch;
                string why;
                if (!Claim(b, pid, out epoch, out why))
                {
                    busy = "lanes=" + lanes + "|" + why;
                    map.Dispose();
                    return null;
                }
                try
                {
                    return new HostConnection(map, pid, epoch);
                }
                catch
                {
                    // Give the claim back: nothing was lent or published yet.
                    ulong mine = ShmLayout.Claim(pid, ShmLayout.StateActive);
                    Interlocked.CompareExchange(ref *(long*)(b + ShmLayout.SideAt(1) + ShmLayout.SideClaimOffset), 0, (long)mine);
                    throw;
                }
            }
            catch
            {
                map.Dispose();
                throw;
            }
        }

        /// <summary>hw_shm_side_claim on side 1. False (why says who holds it) when the side is busy.</summary>
        private static bool Claim(byte* b, int pid, out uint epoch, out string why)
        {
            epoch = 0;
            why = null;
            byte* side = b + ShmLayout.SideAt(1);
            long* claim = (long*)(side + ShmLayout.SideClaimOffset);
            long mine = (long)ShmLayout.Claim(pid, ShmLayout.StateAttaching);
            long seen = Interlocked.CompareExchange(ref *claim, mine, 0);
            if (seen != 0)
            {
                int holder = ShmLayout.ClaimPid((ulong)seen);
                ulong token;
                bool alive = Shm.NativeMethods.ProcessStatus(holder, out token);
                why = ShmLayout.StateName(ShmLayout.ClaimState((ulong)seen)) + " by pid " + holder + " (alive: " + (alive ? "true" : "false") + ")";
                return false;
            }
            uint e;
            do
                e = (uint)Interlocked.Increment(ref *(int*)(b + ShmLayout.EpochSourceOffset));
            while (e == 0); // 0 means "no epoch" in descriptors
            uint liveness = *(uint*)(b + ShmLayout.LivenessOffset);
            Interlocked.Exchange(ref *(int*)(side + ShmLayout.SideEpochOffset), (int)e);
            Interlocked.Exchange(ref *(int*)(side + ShmLayout.SideBeatOffset), (int)Math.Max(1u, liveness / 10));
            Interlocked.Exchange(ref *(long*)(side + ShmLayout.SideTokenOffset), (long)Shm.NativeMethods.OwnToken());
            long nowNs = (DateTime.UtcNow - new DateTime(1970, 1, 1, 0, 0, 0, DateTimeKind.Utc)).Ticks * 100;
            Interlocked.Exchange(ref *(long*)(side + ShmLayout.SideAttachedOffset), nowNs);
            Interlocked.Increment(ref *(long*)(side + ShmLayout.SideHeartbeatOffset));
            if (Interlocked.CompareExchange(ref *claim, (long)ShmLayout.Claim(pid, ShmLayout.StateActive), mine) != mine)
                throw new HaywireException("this side's claim was revoked by the engine while attaching (fenced)");
            Interlocked.Increment(ref *(long*)(b + ShmLayout.CounterAt(1, ShmLayout.CounterAttaches)));
            epoch = e;
            return true;
        }
    }
}
