using System;
using System.Collections.Generic;
using System.Threading.Tasks;

using NUnit.Framework;

using AppFunc = System.Func<System.Collections.Generic.IDictionary<string, object>, System.Threading.Tasks.Task>;

namespace Haywire.Owin.Tests
{
    /// <summary>
    /// AppBuilder and StartupLoader on their own: the pipeline they build is called with a
    /// plain environment dictionary (the HTTP path is covered by OwinSpecTests).
    /// </summary>
    [TestFixture]
    public class OwinBuilderTests
    {
        private static IDictionary<string, object> Env(string path)
        {
            return new Dictionary<string, object>(StringComparer.Ordinal)
            {
                { OwinKeys.RequestPath, path },
                { OwinKeys.RequestPathBase, "" },
                { "trace", new List<string>() },
            };
        }

        private static List<string> Log(IDictionary<string, object> env)
        {
            return (List<string>)env["trace"];
        }

        public sealed class TagMiddleware
        {
            private readonly AppFunc _next;
            private readonly string _tag;

            public TagMiddleware(AppFunc next, string tag)
            {
                _next = next;
                _tag = tag;
            }

            public async Task Invoke(IDictionary<string, object> env)
            {
                Log(env).Add(_tag + ">");
                await _next(env);
                Log(env).Add("<" + _tag);
            }
        }

        public sealed class NoInvoke
        {
            public NoInvoke(AppFunc next)
            {
            }
        }

        [Test]
        public void MiddlewareRunsInTheOrderAddedAroundTheEnd()
        {
            var builder = new AppBuilder();
            builder.Use(next => async env =>
            {
                Log(env).Add("func>");
                await next(env);
                Log(env).Add("<func");
            });
            builder.Use(typeof(TagMiddleware), "class");
            builder.Use<TagMiddleware>("generic");
            builder.Run(env =>
            {
                Log(env).Add("end");
                return Task.CompletedTask;
            });
            var e = Env("/");
            builder.Build()(e).Wait();
            Assert.AreEqual(new[] { "func>", "class>", "generic>", "end", "<generic", "<class", "<func" }, Log(e).ToArray());
        }

        [Test]
        public void MapBranchesOnWholeSegmentsAndRestoresThePaths()
        {
            var builder = new AppBuilder();
            builder.Map("/api", api => api.Run(env =>
            {
                Log(env).Add("api " + env[OwinKeys.RequestPathBase] + " " + env[OwinKeys.RequestPath]);
                return Task.CompletedTask;
            }));
            builder.Run(env =>
            {
                Log(env).Add("main " + env[OwinKeys.RequestPath]);
                return Task.CompletedTask;
            });
            AppFunc app = builder.Build();
            foreach (var c in new[] { Tuple.Create("/api/v1", "api /api /v1"), Tuple.Create("/API", "api /API "), Tuple.Create("/apis", "main /apis") })
            {
                var e = Env(c.Item1);
                app(e).Wait();
                Assert.AreEqual(c.Item2, Log(e)[0], c.Item1);
                Assert.AreEqual(c.Item1, e[OwinKeys.RequestPath], "restored after the branch");
                Assert.AreEqual("", e[OwinKeys.RequestPathBase]);
            }
        }

        [Test]
        public void APipelineWithoutAnEndAnswers404()
        {
            var e = Env("/");
            new AppBuilder().Use(typeof(TagMiddleware), "x").Build()(e).Wait();
            Assert.AreEqual(404, e[OwinKeys.ResponseStatusCode]);
        }

        [Test]
        public void UnsupportedMiddlewareIsRefusedWithTheReason()
        {
            var builder = new AppBuilder();
            StringAssert.Contains("Task Invoke", Assert.Throws<ArgumentException>(() => builder.Use(typeof(NoInvoke))).Message);
            StringAssert.Contains("constructor", Assert.Throws<ArgumentException>(() => builder.Use(typeof(TagMiddleware), 42)).Message);
            StringAssert.Contains("unsupported middleware", Assert.Throws<ArgumentException>(() => builder.Use("a string")).Message);
        }

        [Test]
        public void PropertiesCarryTheOwinVersion()
        {
            Assert.AreEqual("1.0", new AppBuilder().Properties[OwinKeys.Version]);
        }

        public class StartupWithBuilder
        {
            public void Configuration(AppBuilder app)
            {
                app.Run(env =>
                {
                    env["ran"] = "builder";
                    return Task.CompletedTask;
                });
            }
        }

        public class StartupWithProperties
        {
            public AppFunc Configuration(IDictionary<string, object> properties)
            {
                return env =>
                {
                    env["ran"] = "properties " + properties[OwinKeys.Version];
                    return Task.CompletedTask;
                };
            }
        }

        public static class StartupWithInvoke
        {
            public static Task Invoke(IDictionary<string, object> env)
            {
                env["ran"] = "invoke";
                return Task.CompletedTask;
            }
        }

        public class StartupWithoutEntry
        {
            public void Configure(AppBuilder app)
            {
            }
        }

        [TestCase(typeof(StartupWithBuilder), "builder")]
        [TestCase(typeof(StartupWithProperties), "properties 1.0")]
        [TestCase(typeof(StartupWithInvoke), "invoke")]
        public void StartupLoaderAcceptsEachShape(Type startup, string expected)
        {
            var builder = new AppBuilder();
            StartupLoader.FromType(startup)(builder);
            var e = Env("/");
            builder.Build()(e).Wait();
            Assert.AreEqual(expected, e["ran"]);
        }

        [Test]
        public void StartupLoaderNamesWhatIsMissing()
        {
            var e = Assert.Throws<StartupException>(() => StartupLoader.FromType(typeof(StartupWithoutEntry)));
            StringAssert.Contains("has no entry", e.Message);
            StringAssert.Contains("Configuration(Haywire.Owin.AppBuilder app)", e.Message);
        }
    }
}
