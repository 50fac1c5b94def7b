using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Threading.Tasks;

using AppFunc = System.Func<System.Collections.Generic.IDictionary<string, object>, System.Threading.Tasks.Task>;

namespace Haywire.Owin
{
    /// <summary>
    /// Finds an application's entry the way Katana's loader does, without Owin.dll.
    /// The startup class is the one named (--startup Namespace.Type), else the public
    /// class named <c>Startup</c> — the one in the namespace named after the assembly
    /// when there are several. Its entry is, in this order of preference:
    /// <list type="number">
    /// <item><c>Configuration(AppBuilder app)</c> (instance or static; the result is ignored);</item>
    /// <item><c>AppFunc Configuration(IDictionary&lt;string, object&gt; properties)</c>;</item>
    /// <item><c>static Task Invoke(IDictionary&lt;string, object&gt; environment)</c>, the application itself.</item>
    /// </list>
    /// An instance method needs a public parameterless constructor.
    /// </summary>
    public static class StartupLoader
    {
        /// <summary>
        /// Loads the assembly at assemblyPath and returns its entry as a configuration of
        /// an <see cref="AppBuilder"/> (whatever the entry's shape). Throws StartupException
        /// saying what is missing or ambiguous.
        /// </summary>
        public static Action<AppBuilder> Load(string assemblyPath, string startupTypeName)
        {
            if (string.IsNullOrEmpty(assemblyPath))
            {
                throw new StartupException("no application assembly given (--app PATH.dll)");
            }
            string full = Path.GetFullPath(assemblyPath);
            if (!File.Exists(full))
            {
                throw new StartupException("the application assembly " + full + " does not exist");
            }
            Assembly assembly;
            try
            {
                assembly = Assembly.LoadFrom(full);
            }
            catch (BadImageFormatException e)
            {
                throw new StartupException(full + " is not a .NET assembly: " + e.Message);
            }
            catch (Exception e)
            {
                throw new StartupException("cannot load " + full + ": " + e.Message);
            }
            return Load(assembly, startupTypeName);
        }

        /// <summary>Finds the entry in an assembly already loaded (see the class summary).</summary>
        public static Action<AppBuilder> Load(Assembly assembly, string startupTypeName)
        {
            Type[] types;
            try
            {
                types = assembly.GetExportedTypes();
            }
            catch (Exception e)
            {
                throw new StartupException("cannot read the types of " + assembly.GetName().Name + ": " + e.Message
                    + " (is a dependency missing beside it?)");
            }
            Type startup;
            if (!string.IsNullOrEmpty(startupTypeName))
            {
                startup = assembly.GetType(startupTypeName, false, false)
                    ?? types.FirstOrDefault(t => t.FullName == startupTypeName);
                if (startup == null)
                {
                    throw new StartupException("the assembly " + assembly.GetName().Name + " has no public type "
                        + startupTypeName + "; its public types are: " + Describe(types));
                }
            }
            else
            {
                Type[] named = types.Where(t => t.Name == "Startup" && t.IsClass).ToArray();
                if (named.Length == 0)
                {
                    throw new StartupException("the assembly " + assembly.GetName().Name
                        + " has no public class named Startup; name the startup class with --startup Namespace.Type");
                }
                startup = named.Length == 1 ? named[0] : named.SingleOrDefault(t => t.Namespace == assembly.GetName().Name);
                if (startup == null)
                {
                    throw new StartupException("the assembly " + assembly.GetName().Name + " has several Startup classes ("
                        + Describe(named) + "); choose one with --startup Namespace.Type");
                }
            }
            return FromType(startup);
        }

        /// <summary>The entry of a startup class (see the class summary).</summary>
        public static Action<AppBuilder> FromType(Type startup)
        {
            const BindingFlags Public = BindingFlags.Public | BindingFlags.Instance | BindingFlags.Static;
            MethodInfo[] methods = startup.GetMethods(Public);

            MethodInfo withBuilder = methods.FirstOrDefault(m => m.Name == "Configuration" && HasParameters(m, typeof(AppBuilder)));
            if (withBuilder != null)
            {
                return builder => Invoke(withBuilder, startup, builder);
            }

            MethodInfo withProperties = methods.FirstOrDefault(m => m.Name == "Configuration"
                && HasParameters(m, typeof(IDictionary<string, object>)) && m.ReturnType == typeof(AppFunc));
            if (withProperties != null)
            {
                return builder =>
                {
                    var app = (AppFunc)Invoke(withProperties, startup, builder.Properties);
                    if (app == null)
                    {
                        throw new StartupException(startup.FullName + ".Configuration returned a null AppFunc");
                    }
                    builder.Run(app);
                };
            }

            MethodInfo invoke = methods.FirstOrDefault(m => m.Name == "Invoke" && m.IsStatic
                && HasParameters(m, typeof(IDictionary<string, object>)) && typeof(Task).IsAssignableFrom(m.ReturnType));
            if (invoke != null)
            {
                var app = (AppFunc)Delegate.CreateDelegate(typeof(AppFunc), invoke);
                return builder => builder.Run(app);
            }

            MethodInfo other = methods.FirstOrDefault(m => m.Name == "Configuration");
            string hint = other == null ? "" : " (found Configuration(" + string.Join(", ",
                other.GetParameters().Select(p => p.ParameterType.FullName)) + "), which is none of these"
                + (other.GetParameters().Any(p => p.ParameterType.Name == "IAppBuilder")
                    ? "; Katana's IAppBuilder is not supported here: take Haywire.Owin.AppBuilder instead" : "") + ")";
            throw new StartupException("the startup class " + startup.FullName + " has no entry: define "
                + "void Configuration(Haywire.Owin.AppBuilder app), "
                + "Func<IDictionary<string, object>, Task> Configuration(IDictionary<string, object> properties), "
                + "or static Task Invoke(IDictionary<string, object> environment)" + hint);
        }

        private static bool HasParameters(MethodInfo method, Type parameterType)
        {
            ParameterInfo[] ps = method.GetParameters();
            return ps.Length == 1 && ps[0].ParameterType == parameterType;
        }

        private static object Invoke(MethodInfo method, Type startup, object argument)
        {
            object instance = null;
            if (!method.IsStatic)
            {
                if (startup.GetConstructor(Type.EmptyTypes) == null)
                {
                    throw new StartupException("the startup class " + startup.FullName + " needs a public parameterless constructor");
                }
                instance = Activator.CreateInstance(startup);
            }
            try
            {
                return method.Invoke(instance, new[] { argument });
            }
            catch (TargetInvocationException e)
            {
                throw new StartupException(startup.FullName + "." + method.Name + " failed: " + e.InnerException.Message,
                    e.InnerException);
            }
        }

        private static string Describe(IEnumerable<Type> types)
        {
            string list = string.Join(", ", types.Select(t => t.FullName).Take(20));
            return list.Length == 0 ? "(none)" : list;
        }
    }
}
