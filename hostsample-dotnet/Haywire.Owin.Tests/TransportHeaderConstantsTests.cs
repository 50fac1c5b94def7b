using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Text;
using System.Text.RegularExpressions;
using Haywire.Owin.Transport.Bridge;
using Haywire.Owin.Transport.Shm;
using NUnit.Framework;

namespace Haywire.Owin.Tests
{
    /// <summary>
    /// The C# constants against the C headers they are copied from (include/haywire_shm.h, haywire_bridge.h): every
    /// HW_SHM_* and HW_BRIDGE_* macro and error constant is listed by the C compiler (gcc -dM -E), evaluated by it (a
    /// generated C program prints each), and compared with the C# constant of the same name. A header number with no
    /// C# twin fails unless <see cref="NotMirrored"/> says why C# does without it.
    /// </summary>
    /// <remarks>
    /// The naming rule: HW_SHM_RING_TAIL_OFFSET is a const whose name, upper-cased, is RINGTAILOFFSET (RingTailOffset)
    /// in one of the classes of its prefix (<see cref="Mirrors"/>); every such const must hold the header's value.
    /// <see cref="Renamed"/> lists the few C# names that leave a word out. The method ids HW_BRIDGE_METHOD_X index
    /// BridgeLayout.MethodNames instead. Internal macros (HW_SHM__*) and function-like macros are not compared.
    /// </remarks>
    [TestFixture]
    public class TransportHeaderConstantsTests
    {
        /// <summary>The classes that mirror each prefix, searched in this order.</summary>
        private static readonly Dictionary<string, Type[]> Mirrors = new Dictionary<string, Type[]>
        {
            { "HW_SHM_", new[] { typeof(ShmLayout), typeof(RegionHeader), typeof(Descriptor) } },
            // The bridge repeats the region's descriptor kinds it uses (HW_BRIDGE_KIND_* = HW_SHM_KIND_*).
            { "HW_BRIDGE_", new[] { typeof(BridgeLayout), typeof(ViewCheck), typeof(ShmLayout) } },
        };

        /// <summary>C# names that do not follow the rule (the flag words drop the header's "F_").</summary>
        private static readonly Dictionary<string, string> Renamed = new Dictionary<string, string>
        {
            { "HW_BRIDGE_VIEW_F_KEEP_ALIVE", "BridgeLayout.ViewKeepAlive" },
            { "HW_BRIDGE_VIEW_F_HEAD", "BridgeLayout.ViewHead" },
            { "HW_BRIDGE_VIEW_F_EXPECT_CONTINUE", "BridgeLayout.ViewExpectContinue" },
            { "HW_BRIDGE_VIEW_F_CHUNKED", "BridgeLayout.ViewChunked" },
            { "HW_BRIDGE_VIEW_F_BODY_STREAM", "BridgeLayout.ViewBodyStream" },
            { "HW_BRIDGE_RESPONSE_F_STREAM", "BridgeLayout.ResponseStream" },
        };

        /// <summary>Header numbers C# does not mirror, each with the reason. Every entry must exist in the headers.</summary>
        private static readonly Dictionary<string, string> NotMirrored = new Dictionary<string, string>
        {
            // Region (haywire_shm.h).
            { "HW_SHM_SIDE_COUNT", "two sides, addressed as ShmLayout.SideAt(0) and SideAt(1)" },
            { "HW_SHM_NAME_MAX", "a C buffer size (name, lane suffix, NUL); C# names are strings" },
            { "HW_SHM_NUM_COUNTERS", "C# reads a counter by index (HostConnection.Counter) and never walks them all" },
            { "HW_SHM_CONTROL_OFFSET", "the start of the control words; C# names each word (EpochSourceOffset, FlagsOffset)" },
            { "HW_SHM_RING_GEOMETRY_OFFSET", "the start of a ring's geometry words; C# names each (RingMagicOffset, ...)" },
            // Error codes C# never returns: it reports these conditions as exceptions whose messages carry the values.
            { "HW_SHM_EBUSY", "a taken side is a HaywireException (or another lane) in HostConnection.Attach" },
            { "HW_SHM_EFENCED", "a revoked claim is a HaywireException / the connection goes gone" },
            { "HW_SHM_ECORRUPT", "a corrupt ring index marks the connection gone with a message" },
            { "HW_SHM_ETIMEDOUT", "waits return bool (timed out) rather than a code" },
            { "HW_SHM_ENAME", "a bad region name is a HaywireException from HostConnection.Attach" },
            // Bridge (haywire_bridge.h): widths and sub-offsets the C header accumulates its offsets from.
            { "HW_BRIDGE_U8", "a field width used to accumulate offsets in C" },
            { "HW_BRIDGE_U16", "a field width used to accumulate offsets in C" },
            { "HW_BRIDGE_U32", "a field width used to accumulate offsets in C" },
            { "HW_BRIDGE_U64", "a field width used to accumulate offsets in C" },
            { "HW_BRIDGE_VIEW_TARGET_SPAN_OFFSET", "C# indexes spans: ViewMethodSpanOffset + SpanTarget * SpanSize" },
            { "HW_BRIDGE_VIEW_PATH_SPAN_OFFSET", "C# indexes spans: ViewMethodSpanOffset + SpanPath * SpanSize" },
            { "HW_BRIDGE_VIEW_QUERY_SPAN_OFFSET", "C# indexes spans: ViewMethodSpanOffset + SpanQuery * SpanSize" },
            { "HW_BRIDGE_VIEW_AUTHORITY_SPAN_OFFSET", "C# indexes spans: ViewMethodSpanOffset + SpanAuthority * SpanSize" },
            { "HW_BRIDGE_VIEW_HOST_SPAN_OFFSET", "C# indexes spans: ViewMethodSpanOffset + SpanHost * SpanSize" },
        };

        private const string MethodPrefix = "HW_BRIDGE_METHOD_";

        private static string SourceRoot()
        {
            string env = Environment.GetEnvironmentVariable("HAYWIRE_SOURCE_DIR");
            var starts = new List<string>();
            if (!string.IsNullOrEmpty(env))
                starts.Add(env);
            starts.Add(TransportEngine.BuildDir);
            starts.Add(Path.GetDirectoryName(typeof(TransportHeaderConstantsTests).Assembly.Location));
            foreach (string start in starts)
                for (string d = Path.GetFullPath(start); d != null; d = Path.GetDirectoryName(d))
                    if (File.Exists(Path.Combine(d, "include", "haywire_shm.h")))
                        return d;
            Assert.Fail("include/haywire_shm.h not found above " + string.Join(", ", starts) + " (set HAYWIRE_SOURCE_DIR)");
            return null;
        }

        private static string Compiler()
        {
            string cc = Environment.GetEnvironmentVariable("CC");
            return string.IsNullOrEmpty(cc) ? "gcc" : cc;
        }

        private static string Run(string exe, string args, string what)
        {
            var psi = new ProcessStartInfo(exe, args)
            {
                UseShellExecute = false,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            Process p;
            try
            {
                p = Process.Start(psi);
            }
            catch (System.ComponentModel.Win32Exception e)
            {
                Assert.Ignore(what + ": cannot run " + exe + " (" + e.Message + "); a C compiler is needed (set CC)");
                return null;
            }
            using (p)
            {
                var err = p.StandardError.ReadToEndAsync();
                string output = p.StandardOutput.ReadToEnd();
                p.WaitForExit();
                if (p.ExitCode != 0)
                    Assert.Fail(what + " failed (" + exe + " " + args + ", exit " + p.ExitCode + "):\n" + err.Result);
                return output;
            }
        }

        private const string Includes = "#include <sys/syscall.h>\n#include \"haywire_shm.h\"\n#include \"haywire_bridge.h\"\n";

        private static bool InScope(string name)
        {
            foreach (string prefix in Mirrors.Keys)
                if (name.StartsWith(prefix, StringComparison.Ordinal) && !name.StartsWith(prefix + "_", StringComparison.Ordinal))
                    return true;
            return false;
        }

        /// <summary>The header's numbers and strings, name → printed value, as the C compiler evaluates them.</summary>
        private static Dictionary<string, string> HeaderValues(out string dir)
        {
            string root = SourceRoot();
            dir = Path.Combine(Path.GetTempPath(), "hwconst-" + Guid.NewGuid().ToString("N").Substring(0, 12));
            Directory.CreateDirectory(dir);
            string inc = "-I\"" + Path.Combine(root, "include") + "\"";
            string probe = Path.Combine(dir, "probe.c");
            File.WriteAllText(probe, Includes);
            string cc = Compiler();

            // 1. Every object-like macro of the prefixes (gcc -dM -E), numbers and string literals.
            var numbers = new SortedSet<string>(StringComparer.Ordinal);
            var strings = new SortedSet<string>(StringComparer.Ordinal);
            var macros = new HashSet<string>(StringComparer.Ordinal);
            var define = new Regex(@"^#define (\w+)(\(?)\s*(.*)$");
            foreach (string line in Run(cc, "-std=c11 -dM -E " + inc + " \"" + probe + "\"", "listing the macros").Split('\n'))
            {
                Match m = define.Match(line.TrimEnd('\r'));
                if (!m.Success)
                    continue;
                string name = m.Groups[1].Value;
                macros.Add(name);
                if (!InScope(name) || m.Groups[2].Value == "(" || m.Groups[3].Value.Length == 0)
                    continue;
                (m.Groups[3].Value.StartsWith("\"", StringComparison.Ordinal) ? strings : numbers).Add(name);
            }
            // 2. Constants that are not macros (enumerators such as the error codes): names left after preprocessing.
            string pre = Run(cc, "-std=c11 -E -P " + inc + " \"" + probe + "\"", "preprocessing the headers");
            pre = Regex.Replace(pre, "\"(?:[^\"\\\\\\n]|\\\\.)*\"", "\"\""); // not the names quoted in static asserts
            foreach (Match m in Regex.Matches(pre, @"\bHW_[A-Z0-9_]+\b"))
                if (InScope(m.Value) && !macros.Contains(m.Value))
                    numbers.Add(m.Value);

            // 3. A program prints each value: the compiler evaluates every expression.
            var c = new StringBuilder("#include <stdio.h>\n" + Includes + "int main(void)\n{\n");
            foreach (string n in numbers)
                c.Append("    printf(\"%s %lld %llu\\n\", \"").Append(n).Append("\", (long long)(").Append(n)
                 .Append("), (unsigned long long)(").Append(n).Append("));\n");
            foreach (string n in strings)
                c.Append("    printf(\"%s \\\"%s\\\"\\n\", \"").Append(n).Append("\", ").Append(n).Append(");\n");
            c.Append("    return 0;\n}\n");
            string src = Path.Combine(dir, "constants.c"), exe = Path.Combine(dir, "constants");
            File.WriteAllText(src, c.ToString());
            Run(cc, "-std=c11 " + inc + " -o \"" + exe + "\" \"" + src + "\"", "compiling the constants program");
            var values = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (string line in Run(exe, "", "running the constants program").Split('\n'))
            {
                string l = line.TrimEnd('\r');
                int sp = l.IndexOf(' ');
                if (sp > 0)
                    values[l.Substring(0, sp)] = l.Substring(sp + 1);
            }
            Assert.That(values.Count, Is.EqualTo(numbers.Count + strings.Count), "the program printed every constant");
            return values;
        }

        /// <summary>C# consts of the mirror classes of prefix, by upper-cased name.</summary>
        private static Dictionary<string, List<FieldInfo>> CSharpConstants(string prefix)
        {
            var byName = new Dictionary<string, List<FieldInfo>>(StringComparer.Ordinal);
            foreach (Type t in Mirrors[prefix])
                foreach (FieldInfo f in t.GetFields(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static))
                {
                    if (!f.IsLiteral)
                        continue;
                    string key = f.Name.ToUpperInvariant();
                    List<FieldInfo> list;
                    if (!byName.TryGetValue(key, out list))
                        byName[key] = list = new List<FieldInfo>();
                    list.Add(f);
                }
            return byName;
        }

        private static FieldInfo ByPath(string path)
        {
            string[] parts = path.Split('.');
            foreach (Type[] types in Mirrors.Values)
                foreach (Type t in types)
                    if (t.Name == parts[0])
                    {
                        FieldInfo f = t.GetField(parts[1], BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static);
                        if (f != null && f.IsLiteral)
                            return f;
                    }
            return null;
        }

        /// <summary>Whether the C# constant equals the printed value ("signed unsigned" for numbers, "\"text\"" for strings).</summary>
        private static bool Same(FieldInfo f, string printed, out string csharp)
        {
            object v = f.GetRawConstantValue();
            if (v is string)
            {
                csharp = "\"" + v + "\"";
                return csharp == printed;
            }
            csharp = Convert.ToDecimal(v).ToString(System.Globalization.CultureInfo.InvariantCulture);
            string[] both = printed.Split(' ');
            return both.Length == 2 && (both[0] == csharp || both[1] == csharp);
        }

        [Test]
        public void EveryHeaderConstantHasAnEqualCSharpConstant()
        {
            string dir;
            Dictionary<string, string> header = HeaderValues(out dir);
            try
            {
                Assert.That(header.ContainsKey("HW_SHM_LAYOUT_VERSION") && header.ContainsKey("HW_BRIDGE_VIEW_VERSION"), Is.True,
                    "the listing found the headers' constants: " + string.Join(" ", header.Keys));
                var problems = new List<string>();
                int compared = 0;
                foreach (KeyValuePair<string, string> kv in header.OrderBy(k => k.Key, StringComparer.Ordinal))
                {
                    if (NotMirrored.ContainsKey(kv.Key))
                        continue;
                    if (kv.Key.StartsWith(MethodPrefix, StringComparison.Ordinal) && kv.Key != "HW_BRIDGE_METHOD_OTHER")
                    {
                        // The method ids (HW_BRIDGE_METHOD_MAP) are mirrored as a table: the id indexes the name.
                        compared++;
                        int id = int.Parse(kv.Value.Split(' ')[0]);
                        string want = kv.Key.Substring(MethodPrefix.Length);
                        string[] names = BridgeLayout.MethodNames;
                        if (id < 0 || id >= names.Length || names[id].Replace("-", "") != want)
                            problems.Add(kv.Key + " = " + id + " but BridgeLayout.MethodNames[" + id + "] = " +
                                         (id >= 0 && id < names.Length ? "\"" + names[id] + "\"" : "(none)"));
                        continue;
                    }
                    string prefix = Mirrors.Keys.First(p => kv.Key.StartsWith(p, StringComparison.Ordinal));
                    var twins = new List<FieldInfo>();
                    string renamed;
                    if (Renamed.TryGetValue(kv.Key, out renamed))
                    {
                        FieldInfo f = ByPath(renamed);
                        if (f == null)
                            problems.Add(kv.Key + ": the C# constant " + renamed + " named in Renamed does not exist");
                        else
                            twins.Add(f);
                    }
                    else
                    {
                        List<FieldInfo> found;
                        if (CSharpConstants(prefix).TryGetValue(kv.Key.Substring(prefix.Length).Replace("_", ""), out found))
                            twins.AddRange(found);
                    }
                    if (twins.Count == 0)
                    {
                        problems.Add(kv.Key + " = " + kv.Value + ": no C# constant (add one to " +
                                     string.Join(" / ", Mirrors[prefix].Select(t => t.Name)) +
                                     ", or to NotMirrored with the reason C# does without it)");
                        continue;
                    }
                    foreach (FieldInfo f in twins)
                    {
                        string cs;
                        compared++;
                        if (!Same(f, kv.Value, out cs))
                            problems.Add(kv.Key + " = " + kv.Value + " but " + f.DeclaringType.Name + "." + f.Name + " = " + cs);
                    }
                }
                foreach (string name in NotMirrored.Keys)
                    if (!header.ContainsKey(name))
                        problems.Add(name + " is listed in NotMirrored but the headers do not define it (remove it)");
                foreach (string name in Renamed.Keys)
                    if (!header.ContainsKey(name))
                        problems.Add(name + " is listed in Renamed but the headers do not define it (remove it)");
                Assert.That(problems, Is.Empty, "the C# constants disagree with the headers (" + compared + " compared):\n  " +
                                                string.Join("\n  ", problems));
                Assert.That(compared, Is.GreaterThan(150), "constants compared");
                Console.WriteLine("C# constants vs headers: " + compared + " compared, " + NotMirrored.Count + " not mirrored");
            }
            finally
            {
                try
                {
                    Directory.Delete(dir, true);
                }
                catch (IOException)
                {
                }
            }
        }
    }
}
