using System;
using System.Collections.Generic;
using System.Linq;
using System.Reflection;
using System.Threading.Tasks;

using AppFunc = System.Func<System.Collections.Generic.IDictionary<string, object>, System.Threading.Tasks.Task>;

namespace Haywire.Owin
{
    /// <summary>
    /// Builds an OWIN pipeline without Owin.dll: middleware in the order added, the
    /// first added outermost. Shapes accepted by <see cref="Use(object, object[])"/>:
    /// a <c>Func&lt;AppFunc, AppFunc&gt;</c>, or a Katana-style middleware class — a
    /// constructor taking the next AppFunc (then the extra arguments) and
    /// <c>Task Invoke(IDictionary&lt;string, object&gt;)</c>.
    /// <example><code>
    /// public class Startup {
    ///     public void Configuration(AppBuilder app) {
    ///         app.Use(typeof(TimingMiddleware));
    ///         app.Map("/api", api => api.Run(ApiHandler));
    ///         app.Run(env => { ... });
    ///     }
    /// }
    /// </code></example>
    /// Not thread-safe; build once at startup.
    /// </summary>
    public sealed class AppBuilder
    {
        private static readonly AppFunc NotFound = env =>
        {
            env[OwinKeys.ResponseStatusCode] = 404;
            return Task.CompletedTask;
        };

        private readonly List<Func<AppFunc, AppFunc>> _middleware = new List<Func<AppFunc, AppFunc>>();
        private readonly IDictionary<string, object> _properties;
        private AppFunc _terminal;

        /// <summary>A builder with empty properties (owin.Version only).</summary>
        public AppBuilder()
            : this(null)
        {
        }

        /// <summary>A builder over the host's startup properties (shared, not copied).</summary>
        public AppBuilder(IDictionary<string, object> properties)
        {
            _properties = properties ?? new Dictionary<string, object>(StringComparer.Ordinal);
            if (!_properties.ContainsKey(OwinKeys.Version))
            {
                _properties[OwinKeys.Version] = OwinKeys.OwinVersion;
            }
        }

        /// <summary>The startup properties (OWIN 1.0 §4): owin.Version, server.Capabilities, host.* ...</summary>
        public IDictionary<string, object> Properties
        {
            get { return _properties; }
        }

        /// <summary>Adds a middleware: given the rest of the pipeline, it returns the app to run in front of it.</summary>
        public AppBuilder Use(Func<AppFunc, AppFunc> middleware)
        {
            if (middleware == null)
            {
                throw new ArgumentNullException("middleware");
            }
            _middleware.Add(middleware);
            return this;
        }

        /// <summary>
        /// Adds a middleware given as a <c>Func&lt;AppFunc, AppFunc&gt;</c>, a delegate of that
        /// shape, a Katana-style middleware Type (constructed per pipeline with the next
        /// AppFunc and args), or an AppFunc to run as the end of the pipeline.
        /// </summary>
        public AppBuilder Use(object middleware, params object[] args)
        {
            if (middleware == null)
            {
                throw new ArgumentNullException("middleware");
            }
            args = args ?? new object[0];
            var func = middleware as Func<AppFunc, AppFunc>;
            if (func != null)
            {
                return Use(func);
            }
            var app = middleware as AppFunc;
            if (app != null)
            {
                return Run(app);
            }
            var type = middleware as Type;
            if (type != null)
            {
                return Use(MiddlewareFactory(type, args));
            }
            var del = middleware as Delegate;
            if (del != null)
            {
                // A delegate of another type with the Func<AppFunc, AppFunc> signature.
                MethodInfo invoke = del.GetType().GetMethod("Invoke");
                ParameterInfo[] ps = invoke.GetParameters();
                if (ps.Length == 1 && ps[0].ParameterType == typeof(AppFunc) && invoke.ReturnType == typeof(AppFunc))
                {
                    return Use(next => (AppFunc)del.DynamicInvoke(next));
                }
            }
            throw new ArgumentException("unsupported middleware " + middleware.GetType().FullName
                + ": give a Func<AppFunc, AppFunc>, an AppFunc, or a Type with a constructor (AppFunc next, ...) and Task Invoke(IDictionary<string, object>)",
                "middleware");
        }

        /// <summary>Adds a Katana-style middleware class (see <see cref="Use(object, object[])"/>).</summary>
        public AppBuilder Use<TMiddleware>(params object[] args)
        {
            return Use(typeof(TMiddleware), args);
        }

        /// <summary>Ends the pipeline with app: what runs after every middleware passes the request on.</summary>
        public AppBuilder Run(AppFunc app)
        {
            if (app == null)
            {
                throw new ArgumentNullException("app");
            }
            _terminal = app;
            return this;
        }

        /// <summary>
        /// Branches requests whose path starts with pathBase (segment-wise, ignoring case)
        /// to the pipeline branch builds: for them the matched part moves from
        /// owin.RequestPath to the end of owin.RequestPathBase, and is restored after.
        /// </summary>
        public AppBuilder Map(string pathBase, Action<AppBuilder> branch)
        {
            if (branch == null)
            {
                throw new ArgumentNullException("branch");
            }
            string prefix = PathDecoder.NormalizeBase(pathBase);
            if (prefix.Length == 0)
            {
                throw new ArgumentException("Map needs a non-empty path starting with '/'", "pathBase");
            }
            var builder = new AppBuilder(_properties);
            branch(builder);
            AppFunc branchApp = builder.Build();
            return Use(next => env => MapInvoke(env, prefix, branchApp, next));
        }

        private static Task MapInvoke(IDictionary<string, object> env, string prefix, AppFunc branch, AppFunc next)
        {
            string path = env[OwinKeys.RequestPath] as string ?? "";
            string rest;
            if (!PathDecoder.TrySplit(path, prefix, out rest))
            {
                // Not this branch: the rest of the pipeline's own Task, without a state machine per request.
                return next(env);
            }
            return MapBranchAsync(env, prefix, branch, path, rest);
        }

        private static async Task MapBranchAsync(IDictionary<string, object> env, string prefix, AppFunc branch, string path, string rest)
        {
            string pathBase = env[OwinKeys.RequestPathBase] as string ?? "";
            env[OwinKeys.RequestPathBase] = pathBase + path.Substring(0, prefix.Length);
            env[OwinKeys.RequestPath] = rest;
            try
            {
                await branch(env).ConfigureAwait(false);
            }
            finally
            {
                env[OwinKeys.RequestPathBase] = pathBase;
                env[OwinKeys.RequestPath] = path;
            }
        }

        /// <summary>
        /// The application: the middleware wrapped around the end set by <see cref="Run"/>
        /// (or builder.DefaultApp, or a 404).
        /// </summary>
        public AppFunc Build()
        {
            AppFunc app = _terminal;
            object defaultApp;
            if (app == null && _properties.TryGetValue(OwinKeys.BuilderDefaultApp, out defaultApp))
            {
                app = defaultApp as AppFunc;
            }
            app = app ?? NotFound;
            for (int i = _middleware.Count - 1; i >= 0; i--)
            {
                app = _middleware[i](app);
                if (app == null)
                {
                    throw new InvalidOperationException("middleware " + (i + 1) + " of " + _middleware.Count + " returned a null AppFunc");
                }
            }
            return app;
        }

        private static Func<AppFunc, AppFunc> MiddlewareFactory(Type type, object[] args)
        {
            ConstructorInfo ctor = type.GetConstructors().FirstOrDefault(c =>
            {
                ParameterInfo[] ps = c.GetParameters();
                if (ps.Length != args.Length + 1 || ps[0].ParameterType != typeof(AppFunc))
                {
                    return false;
                }
                for (int i = 0; i < args.Length; i++)
                {
                    if (args[i] != null ? !ps[i + 1].ParameterType.IsInstanceOfType(args[i]) : ps[i + 1].ParameterType.IsValueType)
                    {
                        return false;
                    }
                }
                return true;
            });
            if (ctor == null)
            {
                throw new ArgumentException("middleware " + type.FullName + " has no public constructor (AppFunc next"
                    + string.Concat(args.Select(a => ", " + (a == null ? "null" : a.GetType().Name))) + ")", "middleware");
            }
            MethodInfo invoke = type.GetMethod("Invoke", new[] { typeof(IDictionary<string, object>) });
            if (invoke == null || invoke.IsStatic || !typeof(Task).IsAssignableFrom(invoke.ReturnType))
            {
                throw new ArgumentException("middleware " + type.FullName
                    + " has no public method Task Invoke(IDictionary<string, object> environment)", "middleware");
            }
            return next =>
            {
                var ctorArgs = new object[args.Length + 1];
                ctorArgs[0] = next;
                Array.Copy(args, 0, ctorArgs, 1, args.Length);
                object instance = ctor.Invoke(ctorArgs);
                return (AppFunc)Delegate.CreateDelegate(typeof(AppFunc), instance, invoke);
            };
        }
    }
}
