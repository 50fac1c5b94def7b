using System;
using System.Runtime.InteropServices;
using System.Text;

namespace Haywire.Owin
{
    /// <summary>
    /// P/Invoke of libhaywire (include/haywire.h), for <see cref="OwinHost.StartInProcess"/>
    /// only, of libc's kill for stopping a launched engine gracefully, and of libc's _exit. Entry points are
    /// spelled as in the header. No delegate is ever passed to the library: Go threads
    /// never call managed code (Mono hangs at exit if they do; DESIGN.md, "Process model").
    /// </summary>
    internal static class NativeMethods
    {
        /// <summary>"haywire": libhaywire.so, found by the runtime's usual search (see README).</summary>
        private const string Haywire = "haywire";

        public const int HW_OK = 0;

        [DllImport(Haywire, CallingConvention = CallingConvention.Cdecl)]
        public static extern int hw_config_set([MarshalAs(UnmanagedType.LPStr)] string key, [MarshalAs(UnmanagedType.LPStr)] string value);

        [DllImport(Haywire, CallingConvention = CallingConvention.Cdecl)]
        public static extern int hw_start();

        [DllImport(Haywire, CallingConvention = CallingConvention.Cdecl)]
        public static extern int hw_stop(int timeoutMs);

        [DllImport(Haywire, CallingConvention = CallingConvention.Cdecl)]
        public static extern int hw_region_name(byte[] buffer, UIntPtr size);

        [DllImport(Haywire, CallingConvention = CallingConvention.Cdecl)]
        public static extern int hw_listen_address(byte[] buffer, UIntPtr size, out int port);

        [DllImport(Haywire, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr hw_last_error();

        [DllImport(Haywire, CallingConvention = CallingConvention.Cdecl)]
        public static extern int hw_version_number();

        /// <summary>The message of the last failed haywire call on this thread ("" if none).</summary>
        public static string LastError()
        {
            IntPtr p = hw_last_error();
            return p == IntPtr.Zero ? "" : Marshal.PtrToStringAnsi(p);
        }

        /// <summary>The region name of the engine running in this process.</summary>
        public static string RegionName()
        {
            var buffer = new byte[64]; // names are at most 47 bytes (haywire.h, hw_region_name)
            int rc = hw_region_name(buffer, (UIntPtr)buffer.Length);
            if (rc != HW_OK)
            {
                throw new InvalidOperationException("hw_region_name failed (" + rc + "): " + LastError());
            }
            int n = Array.IndexOf(buffer, (byte)0);
            return Encoding.ASCII.GetString(buffer, 0, n < 0 ? buffer.Length : n);
        }

        /// <summary>
        /// Where the engine running in this process listens, as "ip:port" ("[ip6]:port"): the
        /// port is the one the system picked when listen_port was 0.
        /// </summary>
        public static string ListenAddress()
        {
            var buffer = new byte[64]; // 48 bytes always suffice (haywire.h, hw_listen_address)
            int port;
            int rc = hw_listen_address(buffer, (UIntPtr)buffer.Length, out port);
            if (rc != HW_OK)
            {
                throw new InvalidOperationException("hw_listen_address failed (" + rc + "): " + LastError());
            }
            int n = Array.IndexOf(buffer, (byte)0);
            string ip = Encoding.ASCII.GetString(buffer, 0, n < 0 ? buffer.Length : n);
            return (ip.IndexOf(':') >= 0 ? "[" + ip + "]" : ip) + ":" + port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        public const int SIGTERM = 15;

        [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
        private static extern int sys_kill(int pid, int signal);

        /// <summary>Sends signal to pid; false when libc is not reachable or the call failed.</summary>
        public static bool TryKill(int pid, int signal)
        {
            try
            {
                return sys_kill(pid, signal) == 0;
            }
            catch (DllNotFoundException)
            {
                return false;
            }
            catch (EntryPointNotFoundException)
            {
                return false;
            }
        }

        [DllImport("libc", EntryPoint = "_exit")]
        private static extern void sys_exit_now(int status);

        /// <summary>
        /// Ends the process now (libc _exit: no runtime shutdown, no finalizers); returns only
        /// when libc is not reachable. For after an orderly stop, when the runtime's own exit stalls.
        /// </summary>
        public static void TryExitNow(int status)
        {
            try
            {
                sys_exit_now(status);
            }
            catch (DllNotFoundException)
            {
            }
            catch (EntryPointNotFoundException)
            {
            }
        }
    }
}
