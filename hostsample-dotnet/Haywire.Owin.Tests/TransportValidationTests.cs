using System;
using System.Collections.Generic;
using System.IO;
using System.Runtime.InteropServices;
using System.Text;
using Haywire.Owin.Transport;
using Haywire.Owin.Transport.Bridge;
using Haywire.Owin.Transport.Shm;
using NUnit.Framework;

namespace Haywire.Owin.Tests
{
    /// <summary>
    /// Everything the engine writes is untrusted: the region header, descriptors and request views are checked as
    /// haywire_shm.h and haywire_bridge.h specify, and malformed input is refused with a clear error, never a crash.
    /// </summary>
    [TestFixture]
    public unsafe class TransportValidationTests
    {
        // ------------------------------------------------------------------ region files and headers

        private static string TempDir()
        {
            string d = Path.Combine(Path.GetTempPath(), "hwv-" + Guid.NewGuid().ToString("N").Substring(0, 12));
            Directory.CreateDirectory(d);
            return d;
        }

        [DllImport("libc", EntryPoint = "chmod", SetLastError = true)]
        private static extern int Chmod(string path, int mode);

        [DllImport("libc", EntryPoint = "symlink", SetLastError = true)]
        private static extern int Symlink(string target, string path);

        /// <summary>A copy of a live engine's lane 0 (header, rings, arenas), mode 0600, in a directory of its own.</summary>
        private static byte[] RealRegion()
        {
            // Small, yet able to carry the engine's largest request view (the engine refuses less at start).
            using (var engine = new TransportEngine("--chunks 32", "--slots 64"))
                return File.ReadAllBytes(Path.Combine(engine.RegionDir, engine.Region));
        }

        private static string WriteRegion(string dir, byte[] bytes, int mode = 0x180 /* 0600 */)
        {
            string name = "haywire-" + Guid.NewGuid();
            string path = Path.Combine(dir, name);
            File.WriteAllBytes(path, bytes);
            Chmod(path, mode);
            return name;
        }

        /// <summary>The uuid in a region's header, formatted as in its name.</summary>
        private static string NameOf(byte[] region)
        {
            var sb = new StringBuilder("haywire-");
            for (int i = 0; i < 16; i++)
            {
                if (i == 4 || i == 6 || i == 8 || i == 10)
                    sb.Append('-');
                sb.Append(region[48 + i].ToString("x2"));
            }
            return sb.ToString();
        }

        private static HaywireException AttachFails(string dir, string name)
        {
            return Assert.Throws<HaywireException>(() => HostConnection.Attach(name, dir, TimeSpan.Zero).Dispose());
        }

        [Test]
        public void RegionFilesThatAreNotPrivateRegularFilesAreRefused()
        {
            string dir = TempDir();
            try
            {
                var zeros = new byte[8192];
                string name = WriteRegion(dir, zeros);
                StringAssert.Contains("bad magic", AttachFails(dir, name).Message);

                name = WriteRegion(dir, zeros, 0x1A4 /* 0644 */);
                StringAssert.Contains("mode 0644", AttachFails(dir, name).Message);

                name = WriteRegion(dir, new byte[100]);
                StringAssert.Contains("shorter than its header", AttachFails(dir, name).Message);

                string target = WriteRegion(dir, zeros);
                string link = "haywire-" + Guid.NewGuid();
                Assert.That(Symlink(Path.Combine(dir, target), Path.Combine(dir, link)), Is.EqualTo(0));
                StringAssert.Contains("symbolic link", AttachFails(dir, link).Message);

                string sub = "haywire-" + Guid.NewGuid();
                Directory.CreateDirectory(Path.Combine(dir, sub));
                StringAssert.Contains("not a regular file", AttachFails(dir, sub).Message);
            }
            finally
            {
                Directory.Delete(dir, true);
            }
        }

        [Test]
        public void HeaderFieldsOutOfSpecAreRefusedWithTheirValues()
        {
            byte[] real = RealRegion();
            string dir = TempDir();
            try
            {
                // Sanity: the copy itself is accepted by the checker.
                fixed (byte* p = real)
                {
                    string why;
                    Assert.That(RegionHeader.Check(p, (ulong)real.Length, out why), Is.EqualTo(RegionHeader.Ok), why);
                }
                var cases = new List<KeyValuePair<string, Action<byte[]>>>
                {
                    Case("unsupported layout version", b => Put32(b, 8, 1)),
                    Case("header size 4097", b => Put32(b, 12, 4097)),
                    Case("total size", b => Put64(b, 16, 12345)),
                    Case("creator pid 0", b => Put32(b, 24, 0)),
                    Case("liveness 5 ms", b => Put32(b, 28, 5)),
                    Case("3 rings", b => Put32(b, 64, 3)),
                    Case("lane 2 of 2", b => Put32(b, 72, 2)),
                    Case("ring 1:", b => Put32(b, 128 + 32 + 20, 48)),          // slot count not a power of two
                    Case("ring 0:", b => Put32(b, 128 + 24, 1)),                 // wrong producer
                    Case("ring 2:", b => Put64(b, 128 + 64, 4100)),             // offset not aligned
                    Case("arena 1:", b => Put32(b, 256 + 32 + 16, 100)),        // chunk size not a power of two
                    Case("arena 0:", b => Put32(b, 256 + 24, 1)),               // wrong writer
                    Case("overlap", b => Put64(b, 256 + 32, Get64(b, 256))),    // arena 1 on top of arena 0
                    Case("control block", b => Put32(b, (int)Get64(b, 128), 0)), // ring 0's magic
                    Case("side 1 claim", b => Put64(b, 512 + 128, 7)),
                    Case("uuid", b => b[50] ^= 1),
                };
                foreach (var c in cases)
                {
                    byte[] bad = (byte[])real.Clone();
                    c.Value(bad);
                    string name = NameOf(real);
                    string path = Path.Combine(dir, name);
                    File.WriteAllBytes(path, bad);
                    Chmod(path, 0x180);
                    var ex = AttachFails(dir, name);
                    StringAssert.Contains(c.Key, ex.Message, "case " + c.Key);
                    File.Delete(path);
                }
            }
            finally
            {
                Directory.Delete(dir, true);
            }
        }

        [Test]
        public void RandomHeaderCorruptionNeverCrashesTheChecker()
        {
            byte[] real = RealRegion();
            var rng = new Random(42);
            int accepted = 0, refused = 0;
            for (int iter = 0; iter < 20000; iter++)
            {
                byte[] bad = (byte[])real.Clone();
                int flips = 1 + rng.Next(4);
                for (int f = 0; f < flips; f++)
                    bad[rng.Next(1024)] = (byte)rng.Next(256); // identity, tables, control, sides
                ulong size = rng.Next(10) == 0 ? (ulong)rng.Next(real.Length + 1) : (ulong)real.Length;
                fixed (byte* p = bad)
                {
                    string why;
                    int code = RegionHeader.Check(p, size, out why);
                    if (code == RegionHeader.Ok)
                    {
                        accepted++;
                        // Accepted: every section lies inside the region.
                        for (int i = 0; i < 4; i++)
                            Assert.That(Get64(bad, 128 + 32 * i) + Get64(bad, 128 + 32 * i + 8), Is.LessThanOrEqualTo(size));
                        for (int i = 0; i < 2; i++)
                            Assert.That(Get64(bad, 256 + 32 * i) + Get64(bad, 256 + 32 * i + 8), Is.LessThanOrEqualTo(size));
                    }
                    else
                    {
                        refused++;
                        Assert.That(why, Is.Not.Null.And.Not.Empty);
                    }
                }
            }
            Assert.That(refused, Is.GreaterThan(0));
            Assert.That(accepted, Is.GreaterThan(0), "flips of reserved bytes keep the header valid");
        }

        private static KeyValuePair<string, Action<byte[]>> Case(string expect, Action<byte[]> mutate)
        {
            return new KeyValuePair<string, Action<byte[]>>(expect, mutate);
        }

        private static void Put32(byte[] b, int at, uint v) { BitConverter.GetBytes(v).CopyTo(b, at); }
        private static void Put64(byte[] b, int at, ulong v) { BitConverter.GetBytes(v).CopyTo(b, at); }
        private static ulong Get64(byte[] b, int at) { return BitConverter.ToUInt64(b, at); }

        // ------------------------------------------------------------------ descriptors

        private static Descriptor D(byte kind, byte flags = 0, ushort aux = 0, uint epoch = 5, uint offset = 0, uint length = 0, uint gen = 0)
        {
            return new Descriptor
            {
                Kind = kind, Flags = flags, Aux = aux, Epoch = epoch, Stream = 9, Conn = 1, Offset = offset, Length = length, Gen = gen,
            };
        }

        [Test]
        public void DescriptorRulesMatchTheHeader()
        {
            const ulong arena = 4096 * 4;
            const uint chunk = 4096;
            const uint data = 1, release = 2;
            var table = new[]
            {
                // descriptor, ring role, expected
                Tuple.Create(D(1, 1, length: 100, gen: 1), data, Descriptor.Ok),
                Tuple.Create(D(1, 2, length: 100, gen: 1), data, Descriptor.Ok),
                Tuple.Create(D(1, 3, length: 100, gen: 1), data, Descriptor.EDesc),          // END and MORE
                Tuple.Create(D(1, 4, length: 100, gen: 1), data, Descriptor.EDesc),          // unknown flag
                Tuple.Create(D(1, 1, length: 0), data, Descriptor.EDesc),                    // payload required
                Tuple.Create(D(2, 1, length: 10, gen: 0), data, Descriptor.EDesc),           // gen 0 with a payload
                Tuple.Create(D(2, 0, offset: 4090, length: 10, gen: 1), data, Descriptor.EDesc), // crosses a chunk
                Tuple.Create(D(2, 0, offset: 4096 * 4, length: 1, gen: 1), data, Descriptor.EDesc), // outside the arena
                Tuple.Create(D(2, 0, offset: 4096 * 3 + 4095, length: 1, gen: 1), data, Descriptor.Ok),
                Tuple.Create(D(3), data, Descriptor.Ok),
                Tuple.Create(D(3, 1), data, Descriptor.EDesc),                               // END takes no flags
                Tuple.Create(D(3, length: 1, gen: 1), data, Descriptor.EDesc),               // END takes no payload
                Tuple.Create(D(4, aux: 2), data, Descriptor.Ok),
                Tuple.Create(D(2, aux: 2, length: 1, gen: 1), data, Descriptor.EDesc),       // aux only on CANCEL
                Tuple.Create(D(6, offset: 4096, gen: 3), release, Descriptor.Ok),
                Tuple.Create(D(6, offset: 4096, gen: 3), data, Descriptor.EDesc),            // RELEASE on a data ring
                Tuple.Create(D(2, length: 1, gen: 1), release, Descriptor.EDesc),            // data on a release ring
                Tuple.Create(D(6, offset: 100, gen: 3), release, Descriptor.EDesc),          // not a chunk start
                Tuple.Create(D(6, offset: 4096, gen: 0), release, Descriptor.EDesc),
                Tuple.Create(D(7), data, Descriptor.Ok),                                     // UPGRADE, payload optional
                Tuple.Create(D(7, offset: 8), data, Descriptor.EDesc),
                Tuple.Create(D(9), data, Descriptor.Ok),
                Tuple.Create(D(10), data, Descriptor.Ok),                                    // CONTINUE (layout 2)
                Tuple.Create(D(10, 1), data, Descriptor.EDesc),
                Tuple.Create(D(11), data, Descriptor.EDesc),                                 // unknown kind
                Tuple.Create(D(0), data, Descriptor.EDesc),
                Tuple.Create(D(9, epoch: 0), data, Descriptor.EDesc),
                Tuple.Create(D(9, epoch: 3), data, Descriptor.EStale),                       // below min epoch 4
                Tuple.Create(D(9, epoch: 6), data, Descriptor.EStale),                       // not the wanted 5
            };
            foreach (var t in table)
            {
                Descriptor d = t.Item1;
                Assert.That(d.Check(t.Item2, arena, chunk, 4, 5), Is.EqualTo(t.Item3),
                            "kind " + d.Kind + " flags " + d.Flags + " aux " + d.Aux + " epoch " + d.Epoch + " offset " + d.Offset +
                            " length " + d.Length + " gen " + d.Gen);
            }
        }

        [Test]
        public void DescriptorsRoundTripThroughASlot()
        {
            var d = new Descriptor
            {
                Kind = 5, Flags = 2, Aux = 0, Epoch = 77, Stream = 0x1122334455667788UL, Conn = 99, Offset = 8192, Length = 4096, Gen = 12,
            };
            byte* slot = stackalloc byte[32];
            d.Write(slot);
            Assert.That(slot[0], Is.EqualTo(5));
            Assert.That(*(ulong*)(slot + 8), Is.EqualTo(0x1122334455667788UL));
            Assert.That(*(uint*)(slot + 28), Is.EqualTo(12u));
            Descriptor back = Descriptor.Read(slot);
            Assert.That(back.Stream, Is.EqualTo(d.Stream));
            Assert.That(back.Offset, Is.EqualTo(d.Offset));
            Assert.That(back.Epoch, Is.EqualTo(77u));
        }

        // ------------------------------------------------------------------ request views

        /// <summary>A valid view of "GET /p?q HTTP/1.1" with a Host field and a 3-byte body.</summary>
        private static byte[] ValidView()
        {
            byte[] head = Encoding.ASCII.GetBytes("GET /p?q HTTP/1.1\r\nHost: h\r\n\r\n");
            byte[] body = Encoding.ASCII.GetBytes("abc");
            int fields = 1, headOff = 136 + 16 * fields;
            var v = new byte[headOff + head.Length + body.Length];
            Put16(v, 0, 2);
            Put16(v, 2, 1);
            v[4] = 1;
            v[5] = 1;
            Put16(v, 6, (ushort)fields);
            Put64(v, 8, 42);
            Put64(v, 24, 3);
            Put32(v, 32, (uint)headOff);
            Put32(v, 36, (uint)head.Length);
            Put32(v, 40, (uint)(headOff + head.Length));
            Put32(v, 44, (uint)body.Length);
            uint[] spans = { 0, 3, 4, 4, 4, 2, 7, 1, 0, 0, 25, 1 }; // method, target, path, query, authority, host
            for (int i = 0; i < 12; i++)
                Put32(v, 48 + 4 * i, spans[i]);
            Put32(v, 132, 136);
            Put32(v, 136, 19);      // name "Host"
            Put32(v, 140, 4);
            Put32(v, 144, 25);      // value "h"
            Put32(v, 148, 1);
            head.CopyTo(v, headOff);
            body.CopyTo(v, headOff + head.Length);
            return v;
        }

        private static void Put16(byte[] b, int at, ushort v) { BitConverter.GetBytes(v).CopyTo(b, at); }

        private static int ViewCode(byte[] v, int n = -1)
        {
            fixed (byte* p = v)
            {
                string error;
                int code = ViewCheck.Check(p, n < 0 ? v.Length : n, out error);
                if (code != ViewCheck.Ok)
                    Assert.That(error, Is.Not.Null.And.Not.Empty);
                return code;
            }
        }

        [Test]
        public void ViewRulesV1ToV5AreCheckedInOrder()
        {
            Assert.That(ViewCode(ValidView()), Is.EqualTo(ViewCheck.Ok));
            Assert.That(ViewCode(ValidView(), 135), Is.EqualTo(ViewCheck.EShort));
            byte[] v = ValidView();
            Put16(v, 0, 1);
            Assert.That(ViewCode(v), Is.EqualTo(ViewCheck.EVersion));
            Assert.That(ViewCode(ValidView(), ValidView().Length - 1), Is.EqualTo(ViewCheck.EBounds), "the sections must fill the view");
            v = ValidView();
            Put32(v, 132, 140);
            Assert.That(ViewCode(v), Is.EqualTo(ViewCheck.EBounds));
            v = ValidView();
            Put32(v, 36, 0xFFFFFFF0);
            Assert.That(ViewCode(v), Is.EqualTo(ViewCheck.EBounds), "no u32 wrap-around");
            v = ValidView();
            Put32(v, 52, 1000);
            Assert.That(ViewCode(v), Is.EqualTo(ViewCheck.ESpan));
            v = ValidView();
            Put32(v, 64, 0);
            Put32(v, 68, 0xFFFFFFFF);
            Assert.That(ViewCode(v), Is.EqualTo(ViewCheck.ESpan), "only the query's len may be NO_QUERY (here the path's)");
            v = ValidView();
            Put32(v, 72, 0xFFFFFFF0);
            Put32(v, 76, 0xFFFFFFFF);
            Assert.That(ViewCode(v), Is.EqualTo(ViewCheck.Ok), "NO_QUERY ignores the offset");
            v = ValidView();
            Put32(v, 140, 0);
            Assert.That(ViewCode(v), Is.EqualTo(ViewCheck.EField), "empty field name");
            v = ValidView();
            Put32(v, 144, 0xFFFFFFFF);
            Assert.That(ViewCode(v), Is.EqualTo(ViewCheck.EField));
        }

        [Test]
        public void MutatedViewsAreEitherRefusedOrEntirelyInBounds()
        {
            byte[] valid = ValidView();
            var rng = new Random(7);
            int accepted = 0;
            for (int iter = 0; iter < 50000; iter++)
            {
                byte[] v = (byte[])valid.Clone();
                int flips = 1 + rng.Next(3);
                for (int f = 0; f < flips; f++)
                    v[rng.Next(Math.Min(v.Length, 160))] = (byte)(rng.Next(3) == 0 ? 0xFF : rng.Next(256));
                int n = rng.Next(20) == 0 ? rng.Next(v.Length + 1) : v.Length;
                if (ViewCode(v, n) != ViewCheck.Ok)
                    continue;
                accepted++;
                ulong headOff = BitConverter.ToUInt32(v, 32), headLen = BitConverter.ToUInt32(v, 36);
                ulong bodyOff = BitConverter.ToUInt32(v, 40), bodyLen = BitConverter.ToUInt32(v, 44);
                Assert.That(bodyOff + bodyLen, Is.EqualTo((ulong)n));
                Assert.That(headOff + headLen, Is.EqualTo(bodyOff));
                for (int s = 0; s < 6; s++)
                {
                    ulong off = BitConverter.ToUInt32(v, 48 + 8 * s), len = BitConverter.ToUInt32(v, 52 + 8 * s);
                    if (s == 3 && len == 0xFFFFFFFF)
                        continue;
                    Assert.That(off + len, Is.LessThanOrEqualTo(headLen));
                }
                int count = BitConverter.ToUInt16(v, 6);
                for (int i = 0; i < count; i++)
                {
                    int e = 136 + 16 * i;
                    Assert.That((ulong)BitConverter.ToUInt32(v, e) + BitConverter.ToUInt32(v, e + 4), Is.LessThanOrEqualTo(headLen));
                    Assert.That((ulong)BitConverter.ToUInt32(v, e + 8) + BitConverter.ToUInt32(v, e + 12), Is.LessThanOrEqualTo(headLen));
                }
            }
            Assert.That(accepted, Is.GreaterThan(100), "mutations of flags, ids and addresses stay valid");
        }

        // ------------------------------------------------------------------ names and responses

        [Test]
        public void RegionNamesParseAsTheHeaderSays()
        {
            var uuid = new byte[16];
            int lane;
            Assert.That(RegionNames.TryParse("haywire-0123abcd-4567-89ab-cdef-0123456789ab", uuid, out lane), Is.True);
            Assert.That(lane, Is.EqualTo(0));
            Assert.That(uuid[0], Is.EqualTo(0x01));
            Assert.That(uuid[15], Is.EqualTo(0xab));
            Assert.That(RegionNames.TryParse("haywire-0123abcd-4567-89ab-cdef-0123456789ab.63", uuid, out lane), Is.True);
            Assert.That(lane, Is.EqualTo(63));
            Assert.That(RegionNames.TryParse("haywire-0123abcd-4567-89ab-cdef-0123456789ab.7", uuid, out lane), Is.True);
            Assert.That(lane, Is.EqualTo(7));
            foreach (string bad in new[] { "haywire-0123abcd-4567-89ab-cdef-0123456789ab.0", "haywire-0123abcd-4567-89ab-cdef-0123456789ab.07",
                                           "haywire-0123abcd-4567-89ab-cdef-0123456789ab.64", "haywire-0123abcd-4567-89ab-cdef-0123456789ab.",
                                           "haywire-0123ABCD-4567-89ab-cdef-0123456789ab", "haywire-0123abcd-4567-89ab-cdef-0123456789a",
                                           "haywire-0123abcd+4567-89ab-cdef-0123456789ab", "haywire-0123abcd-4567-89ab-cdef-0123456789ab.1x" })
                Assert.That(RegionNames.TryParse(bad, uuid, out lane), Is.False, bad);
        }

        [Test]
        public void ResponseHeadIsEncodedAsTheBridgeSays()
        {
            byte[] b;
            var headers = new[] { TransportAssert.H("A", "1"), TransportAssert.H("B C", "x"), TransportAssert.H("D", "v\r\nE: 2") };
            int n = ResponseEncoder.EncodeHead(404, 1, "Nope", headers, -1, out b);
            Assert.That(n, Is.EqualTo(16 + 4 + "A: 1\r\n".Length));
            Assert.That(BitConverter.ToUInt16(b, 0), Is.EqualTo(404));
            Assert.That(b[2], Is.EqualTo(1));
            Assert.That(b[3], Is.EqualTo(4));
            Assert.That(BitConverter.ToUInt32(b, 4), Is.EqualTo(6u));
            Assert.That(BitConverter.ToInt64(b, 8), Is.EqualTo(-1L));
            Assert.That(Encoding.ASCII.GetString(b, 16, 10), Is.EqualTo("NopeA: 1\r\n"));
            n = ResponseEncoder.EncodeHead(200, 0, new string('r', 256), null, 0, out b);
            Assert.That(n, Is.EqualTo(16), "a reason over 255 bytes gives the standard phrase");
            Assert.Throws<ArgumentOutOfRangeException>(() => ResponseEncoder.EncodeHead(99, 0, null, null, 0, out b));
        }
    }
}
