using System;

using Haywire.Owin;

namespace Haywire.Host
{
    /// <summary>
    /// The generic OWIN host, like Katana's OwinHost.exe: loads an application assembly,
    /// finds its entry (see StartupLoader) and serves it through an engine.
    /// </summary>
    public static class Program
    {
        private const string Usage =
            "usage: mono Haywire.Host.exe --app PATH.dll [--startup Namespace.Type] (--region NAME | --launch --port P) [options]\n\n" +
            "Loads the OWIN application in PATH.dll and serves it. The entry is the class named by\n" +
            "--startup, else the public class named Startup, with one of:\n" +
            "  void Configuration(Haywire.Owin.AppBuilder app)\n" +
            "  Func<IDictionary<string, object>, Task> Configuration(IDictionary<string, object> properties)\n" +
            "  static Task Invoke(IDictionary<string, object> environment)\n\noptions:\n" +
            "  --app PATH.dll       the application assembly (required)\n" +
            "  --startup NS.TYPE    the startup class (default: the class named Startup)\n" +
            HostCommandLine.CommonUsage;

        public static int Main(string[] args)
        {
            HostCommandLine line;
            try
            {
                line = HostCommandLine.Parse(args, "--app", "--startup");
                if (!line.Help && !line.Extra.ContainsKey("--app"))
                {
                    throw new ArgumentException("--app PATH.dll is required");
                }
            }
            catch (ArgumentException e)
            {
                return HostCommandLine.Fail("Haywire.Host.exe", e.Message, Usage);
            }
            if (line.Help)
            {
                Console.Write(Usage);
                return 0;
            }
            Action<AppBuilder> startup;
            try
            {
                string startupType;
                line.Extra.TryGetValue("--startup", out startupType);
                startup = StartupLoader.Load(line.Extra["--app"], startupType);
            }
            catch (StartupException e)
            {
                Console.Error.WriteLine("Haywire.Host.exe: " + e.Message);
                return 3;
            }
            try
            {
                return HostCommandLine.Exit(line.Serve(startup)); // Mono can hang returning from Main
            }
            catch (Exception e)
            {
                Console.Error.WriteLine("Haywire.Host.exe: " + e.Message);
                return 1;
            }
        }
    }
}
