using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Reflection;
using System.Threading;

namespace Haywire.Owin
{
    /// <summary>
    /// SIGINT and SIGTERM as one callback. SIGINT is Console.CancelKeyPress everywhere.
    /// SIGTERM: on Mono through Mono.Posix's UnixSignal (loaded by reflection, so these
    /// sources still build for .NET, where AppDomain.ProcessExit sees SIGTERM).
    /// </summary>
    internal static class ShutdownSignals
    {
        /// <summary>
        /// Calls stop on SIGINT or SIGTERM; a SIGTERM on .NET waits for disposed before the process
        /// ends. On Mono a SIGTERM once disposed is set, or a second one, ends the process at once.
        /// </summary>
        public static void OnStop(Action stop, ManualResetEventSlim disposed)
        {
            Console.CancelKeyPress += (sender, e) =>
            {
                e.Cancel = true;
                stop();
            };
            if (Type.GetType("Mono.Runtime") == null)
            {
                AppDomain.CurrentDomain.ProcessExit += (sender, e) =>
                {
                    stop();
                    disposed.Wait(TimeSpan.FromSeconds(15)); // let the host dispose before the process ends
                };
                return;
            }
            try
            {
                Assembly posix = Assembly.Load("Mono.Posix, Version=4.0.0.0, Culture=neutral, PublicKeyToken=0738eb9f132ed756");
                Type signum = posix.GetType("Mono.Unix.Native.Signum", true);
                Type unixSignal = posix.GetType("Mono.Unix.UnixSignal", true);
                object sigterm = Enum.Parse(signum, "SIGTERM");
                object signal = Activator.CreateInstance(unixSignal, sigterm);
                MethodInfo waitOne = unixSignal.GetMethod("WaitOne", Type.EmptyTypes);
                MethodInfo reset = unixSignal.GetMethod("Reset", Type.EmptyTypes);
                var watcher = new Thread(() =>
                {
                    // The first SIGTERM stops gracefully. Catching SIGTERM must not make the process
                    // deaf to it: one after the host is disposed (the runtime's exit stalls) or a
                    // second one (the stop takes too long) ends the process at once.
                    for (int signals = 0; ; signals++)
                    {
                        waitOne.Invoke(signal, null);
                        reset.Invoke(signal, null);
                        if (signals > 0 || disposed.IsSet)
                        {
                            Console.Error.WriteLine("haywire.owin: SIGTERM while stopping: exiting now");
                            Console.Error.Flush();
                            NativeMethods.TryExitNow(disposed.IsSet ? 0 : 143);
                            return;
                        }
                        stop();
                    }
                });
                watcher.IsBackground = true;
                watcher.Name = "SIGTERM";
                watcher.Start();
            }
            catch (Exception e)
            {
                Console.Error.WriteLine("haywire.owin: SIGTERM will end the process without a graceful stop (" + e.Message + ")");
            }
        }
    }
}
