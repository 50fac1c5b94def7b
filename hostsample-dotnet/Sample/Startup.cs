using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using System.Threading.Tasks;

using Haywire.Owin;

using AppFunc = System.Func<System.Collections.Generic.IDictionary<string, object>, System.Threading.Tasks.Task>;

namespace Sample
{
    /// <summary>
    /// The sample application, a Startup class as Katana's loader finds it (so
    /// Haywire.Host.exe --app Sample.exe serves it too): a middleware pipeline, a Map
    /// branch, hello world, an upload echo and a streaming download.
    /// </summary>
    public class Startup
    {
        private static readonly byte[] Hello = Encoding.ASCII.GetBytes("Hello, World!");

        public void Configuration(AppBuilder app)
        {
            app.Use(typeof(PoweredByMiddleware), "Haywire.Owin sample");
            app.Map("/api", api => api.Run(ApiAsync));
            app.Run(env =>
            {
                string path = (string)env[OwinKeys.RequestPath];
                switch (path)
                {
                    case "/":
                        return HelloAsync(env);
                    case "/echo":
                        return EchoAsync(env);
                    case "/download":
                        return DownloadAsync(env);
                    case "/env":
                        return EnvironmentAsync(env);
                    case "/delay":
                        return DelayAsync(env);
                    default:
                        env[OwinKeys.ResponseStatusCode] = 404;
                        return Task.CompletedTask;
                }
            });
        }

        private static Task HelloAsync(IDictionary<string, object> env)
        {
            var headers = (IDictionary<string, string[]>)env[OwinKeys.ResponseHeaders];
            headers["Content-Type"] = new[] { "text/plain" };
            var body = (Stream)env[OwinKeys.ResponseBody];
            return body.WriteAsync(Hello, 0, Hello.Length);
        }

        /// <summary>POST /echo: the request body back, as it streams in (64 KiB at a time).</summary>
        private static async Task EchoAsync(IDictionary<string, object> env)
        {
            var requestHeaders = (IDictionary<string, string[]>)env[OwinKeys.RequestHeaders];
            var responseHeaders = (IDictionary<string, string[]>)env[OwinKeys.ResponseHeaders];
            string[] type;
            responseHeaders["Content-Type"] = requestHeaders.TryGetValue("Content-Type", out type) ? type : new[] { "application/octet-stream" };
            var input = (Stream)env[OwinKeys.RequestBody];
            var output = (Stream)env[OwinKeys.ResponseBody];
            var buffer = new byte[64 * 1024];
            int n;
            while ((n = await input.ReadAsync(buffer, 0, buffer.Length).ConfigureAwait(false)) > 0)
            {
                await output.WriteAsync(buffer, 0, n).ConfigureAwait(false);
            }
        }

        /// <summary>
        /// GET /download?bytes=N: N bytes, byte i = i mod 251, written 64 KiB at a time and
        /// sent chunked; add &amp;length=1 to announce a Content-Length instead.
        /// </summary>
        private static async Task DownloadAsync(IDictionary<string, object> env)
        {
            Dictionary<string, string> query = ParseQuery((string)env[OwinKeys.RequestQueryString]);
            long total;
            string text;
            if (!query.TryGetValue("bytes", out text) || !long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out total))
            {
                env[OwinKeys.ResponseStatusCode] = 400;
                var message = Encoding.ASCII.GetBytes("give ?bytes=N\n");
                await ((Stream)env[OwinKeys.ResponseBody]).WriteAsync(message, 0, message.Length).ConfigureAwait(false);
                return;
            }
            var headers = (IDictionary<string, string[]>)env[OwinKeys.ResponseHeaders];
            headers["Content-Type"] = new[] { "application/octet-stream" };
            if (query.ContainsKey("length"))
            {
                headers["Content-Length"] = new[] { total.ToString(CultureInfo.InvariantCulture) };
            }
            var output = (Stream)env[OwinKeys.ResponseBody];
            var block = new byte[64 * 1024];
            long sent = 0;
            while (sent < total)
            {
                int n = (int)Math.Min(block.Length, total - sent);
                for (int i = 0; i < n; i++)
                {
                    block[i] = (byte)((sent + i) % 251);
                }
                await output.WriteAsync(block, 0, n).ConfigureAwait(false);
                sent += n;
            }
        }

        /// <summary>GET /delay?ms=N: answers after N ms without holding a thread meanwhile.</summary>
        private static async Task DelayAsync(IDictionary<string, object> env)
        {
            string text;
            int ms;
            if (!ParseQuery((string)env[OwinKeys.RequestQueryString]).TryGetValue("ms", out text)
                || !int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out ms))
            {
                ms = 1000;
            }
            await Task.Delay(ms, (System.Threading.CancellationToken)env[OwinKeys.CallCancelled]).ConfigureAwait(false);
            var bytes = Encoding.ASCII.GetBytes("waited " + ms + " ms");
            await ((Stream)env[OwinKeys.ResponseBody]).WriteAsync(bytes, 0, bytes.Length).ConfigureAwait(false);
        }

        /// <summary>GET /env: each environment key with its value's type, one per line.</summary>
        private static Task EnvironmentAsync(IDictionary<string, object> env)
        {
            var text = new StringBuilder();
            foreach (var pair in env.OrderBy(p => p.Key, StringComparer.Ordinal))
            {
                text.Append(pair.Key).Append(": ").Append(pair.Value == null ? "null" : pair.Value.GetType().FullName);
                if (pair.Value is string)
                {
                    text.Append(" = ").Append((string)pair.Value);
                }
                text.Append('\n');
            }
            var bytes = Encoding.UTF8.GetBytes(text.ToString());
            ((IDictionary<string, string[]>)env[OwinKeys.ResponseHeaders])["Content-Type"] = new[] { "text/plain; charset=utf-8" };
            return ((Stream)env[OwinKeys.ResponseBody]).WriteAsync(bytes, 0, bytes.Length);
        }

        /// <summary>The /api branch: shows how Map moved the matched prefix into PathBase.</summary>
        private static Task ApiAsync(IDictionary<string, object> env)
        {
            string body = "{\"pathBase\":\"" + env[OwinKeys.RequestPathBase] + "\",\"path\":\"" + env[OwinKeys.RequestPath] + "\"}";
            var bytes = Encoding.UTF8.GetBytes(body);
            ((IDictionary<string, string[]>)env[OwinKeys.ResponseHeaders])["Content-Type"] = new[] { "application/json" };
            return ((Stream)env[OwinKeys.ResponseBody]).WriteAsync(bytes, 0, bytes.Length);
        }

        private static Dictionary<string, string> ParseQuery(string query)
        {
            var result = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (string part in query.Split(new[] { '&' }, StringSplitOptions.RemoveEmptyEntries))
            {
                int eq = part.IndexOf('=');
                result[Uri.UnescapeDataString(eq < 0 ? part : part.Substring(0, eq))] = eq < 0 ? "" : Uri.UnescapeDataString(part.Substring(eq + 1));
            }
            return result;
        }
    }

    /// <summary>
    /// A Katana-style middleware class: adds X-Powered-By through server.OnSendingHeaders,
    /// so it lands on every response, whatever the rest of the pipeline does.
    /// </summary>
    public sealed class PoweredByMiddleware
    {
        private readonly AppFunc _next;
        private readonly string _value;
        private readonly Action<object> _addHeader; // one delegate for every request, not a closure each

        public PoweredByMiddleware(AppFunc next, string value)
        {
            _next = next;
            _value = value;
            _addHeader = AddHeader;
        }

        public Task Invoke(IDictionary<string, object> env)
        {
            var onSendingHeaders = (Action<Action<object>, object>)env[OwinKeys.OnSendingHeaders];
            onSendingHeaders(_addHeader, env);
            return _next(env);
        }

        private void AddHeader(object state)
        {
            var e = (IDictionary<string, object>)state;
            ((IDictionary<string, string[]>)e[OwinKeys.ResponseHeaders])["X-Powered-By"] = new[] { _value };
        }
    }
}
