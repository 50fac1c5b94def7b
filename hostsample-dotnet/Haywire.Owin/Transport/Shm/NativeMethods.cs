using System;
using System.IO;
using System.Runtime.InteropServices;
using System.Text;

namespace Haywire.Owin.Transport.Shm
{
    /// <summary>
    /// The few libc calls the transport needs (Linux): futex through syscall(2), kill(2) to probe a pid, statx(2)
    /// to check a region file before mapping it, geteuid, getpid. "libc" resolves to libc.so.6 on both Mono
    /// (its dllmap) and .NET (probing without a suffix). Nothing here is called from a foreign thread.
    /// </summary>
    internal static unsafe class NativeMethods
    {
        private const string Libc = "libc";

        [StructLayout(LayoutKind.Sequential)]
        public struct Timespec
        {
            public long Seconds;
            public long Nanoseconds;
        }

        // syscall(2) is variadic; on x86-64 and arm64 Linux variadic integer arguments travel like fixed ones.
        [DllImport(Libc, EntryPoint = "syscall", SetLastError = true)]
        private static extern long SyscallFutex(long number, uint* address, int op, uint value, Timespec* timeout,
                                                IntPtr address2, uint value3);

        [DllImport(Libc, EntryPoint = "kill", SetLastError = true)]
        private static extern int Kill(int pid, int signal);

        [DllImport(Libc, EntryPoint = "getpid")]
        public static extern int GetPid();

        [DllImport(Libc, EntryPoint = "geteuid")]
        public static extern uint GetEuid();

        [DllImport(Libc, EntryPoint = "statx", SetLastError = true)]
        private static extern int Statx(int dirfd, byte* path, int flags, uint mask, byte* buffer);

        private const int FutexWait = 0; // not FUTEX_PRIVATE_FLAG: the other side is another process
        private const int FutexWake = 1;
        private const int Etimedout = 110;
        private const int Esrch = 3;
        private const int Eperm = 1;
        private const int Enoent = 2;
        private const int Enosys = 38;
        private const int AtFdcwd = -100;
        private const int AtSymlinkNofollow = 0x100;
        private const uint StatxBasicStats = 0x7ff;

        /// <summary>SYS_futex for this architecture, 0 where unknown (then waits poll).</summary>
        public static readonly long SysFutex = FutexNumber();

        private static long FutexNumber()
        {
            if (!RuntimeInformation.IsOSPlatform(OSPlatform.Linux))
                return 0;
            switch (RuntimeInformation.ProcessArchitecture)
            {
                case Architecture.X64: return 202;
                case Architecture.Arm64: return 98;
                case Architecture.X86: return 240;
                case Architecture.Arm: return 240;
            }
            return 0;
        }

        /// <summary>
        /// FUTEX_WAIT on word while it holds expected, up to timeoutNs. Returns true when it ended by timeout.
        /// Without futex it sleeps a millisecond (the caller re-checks in a loop either way).
        /// </summary>
        public static bool FutexWaitOn(uint* word, uint expected, long timeoutNs)
        {
            if (SysFutex == 0)
            {
                System.Threading.Thread.Sleep(1);
                return System.Threading.Volatile.Read(ref *word) == expected;
            }
            Timespec ts;
            ts.Seconds = timeoutNs / 1000000000L;
            ts.Nanoseconds = timeoutNs % 1000000000L;
            long r = SyscallFutex(SysFutex, word, FutexWait, expected, &ts, IntPtr.Zero, 0);
            return r != 0 && Marshal.GetLastWin32Error() == Etimedout;
        }

        /// <summary>FUTEX_WAKE every waiter on word.</summary>
        public static void FutexWakeAll(uint* word)
        {
            if (SysFutex != 0)
                SyscallFutex(SysFutex, word, FutexWake, int.MaxValue, null, IntPtr.Zero, 0);
        }

        /// <summary>
        /// Whether pid runs, and its start token (field 22 of /proc/PID/stat, 0 if unknown). A zombie counts as
        /// dead. pid 0 or above int.MaxValue is "not running": kill(2) would read it as a process group.
        /// </summary>
        public static bool ProcessStatus(long pid, out ulong token)
        {
            token = 0;
            if (pid <= 0 || pid > int.MaxValue)
                return false;
            int k = Kill((int)pid, 0);
            int err = k == 0 ? 0 : Marshal.GetLastWin32Error();
            if (k != 0 && err == Esrch)
                return false;
            string stat;
            try
            {
                stat = File.ReadAllText("/proc/" + pid + "/stat");
            }
            catch (Exception)
            {
                return k == 0 || err == Eperm; // no /proc: trust kill, no token
            }
            return ParseStat(stat, out token);
        }

        /// <summary>Reads state and start time from a /proc/PID/stat line; false for a zombie.</summary>
        internal static bool ParseStat(string stat, out ulong token)
        {
            token = 0;
            // The command (field 2) is in parentheses and may hold spaces or ')': parse after the last ')'.
            int i = stat.LastIndexOf(')');
            if (i < 0)
                return true;
            string[] f = stat.Substring(i + 1).Split(new[] { ' ', '\n' }, StringSplitOptions.RemoveEmptyEntries);
            if (f.Length < 20)
                return true;
            if (f[0] == "Z" || f[0] == "X")
                return false;
            ulong.TryParse(f[19], out token); // f[0] is field 3, so field 22 is f[19]
            return true;
        }

        /// <summary>This process's start token, 0 if unknown.</summary>
        public static ulong OwnToken()
        {
            try
            {
                ulong token;
                ParseStat(File.ReadAllText("/proc/self/stat"), out token);
                return token;
            }
            catch (Exception)
            {
                return 0;
            }
        }

        /// <summary>What lstat-like statx says of a path: the fields the region checks need.</summary>
        public struct FileFacts
        {
            public bool Exists;
            public bool Known; // false when statx is unavailable: no owner/mode check possible
            public uint Mode;  // st_mode: type and permission bits
            public uint Uid;
            public ulong Size;
            public ulong Inode;
            public uint DevMajor, DevMinor;
            public bool IsRegular { get { return (Mode & 0xF000) == 0x8000; } }
            public bool IsSymlink { get { return (Mode & 0xF000) == 0xA000; } }
        }

        /// <summary>statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW): describes the link itself, never its target.</summary>
        public static FileFacts Lstat(string path)
        {
            var facts = new FileFacts();
            byte[] p = Encoding.UTF8.GetBytes(path + "\0");
            byte* buf = stackalloc byte[256];
            int r;
            try
            {
                fixed (byte* pp = p)
                    r = Statx(AtFdcwd, pp, AtSymlinkNofollow, StatxBasicStats, buf);
            }
            catch (EntryPointNotFoundException)
            {
                facts.Exists = File.Exists(path);
                return facts;
            }
            if (r != 0)
            {
                int err = Marshal.GetLastWin32Error();
                if (err == Enosys)
                {
                    facts.Exists = File.Exists(path);
                    return facts;
                }
                facts.Exists = err != Enoent;
                if (facts.Exists)
                    throw new HaywireException("cannot stat " + path + ": errno " + err);
                return facts;
            }
            // struct statx: uid at 20, mode (u16) at 28, ino at 32, size at 40, dev_major/minor at 136/140.
            facts.Exists = true;
            facts.Known = true;
            facts.Uid = *(uint*)(buf + 20);
            facts.Mode = *(ushort*)(buf + 28);
            facts.Inode = *(ulong*)(buf + 32);
            facts.Size = *(ulong*)(buf + 40);
            facts.DevMajor = *(uint*)(buf + 136);
            facts.DevMinor = *(uint*)(buf + 140);
            return facts;
        }
    }
}
