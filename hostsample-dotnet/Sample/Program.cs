using System;

using Haywire.Owin;

namespace Sample
{
    /// <summary>
    /// The OWIN sample: Sample.exe --region NAME (attach to a running engine) or
    /// --launch --port P (start the engine launcher and serve through it).
    /// The application itself is <see cref="Startup"/>.
    /// </summary>
    public static class Program
    {
        private const string Usage =
            "usage: mono Sample.exe (--region NAME | --launch --port P) [options]\n\n" +
            "Serves the OWIN sample: / (hello world), /echo (POST: the body back), /download?bytes=N\n" +
            "(N bytes, streamed), /delay?ms=N (answers after N ms), /api/... (a Map branch),\n" +
            "/env (the OWIN environment).\n\noptions:\n" +
            HostCommandLine.CommonUsage;

        public static int Main(string[] args)
        {
            HostCommandLine line;
            try
            {
                line = HostCommandLine.Parse(args);
            }
            catch (ArgumentException e)
            {
                return HostCommandLine.Fail("Sample.exe", e.Message, Usage);
            }
            if (line.Help)
            {
                Console.Write(Usage);
                return 0;
            }
            try
            {
                return HostCommandLine.Exit(line.Serve(new Startup().Configuration)); // Mono can hang returning from Main
            }
            catch (Exception e)
            {
                Console.Error.WriteLine("Sample.exe: " + e.Message);
                return 1;
            }
        }
    }
}
