using System;
using System.Net;
using System.Runtime.InteropServices;

namespace Haywire.Owin.Transport.Bridge
{
    /// <summary>
    /// A request view (include/haywire_bridge.h section 3) read in place: no copy, no parse. The fixed header is
    /// copied once at construction, after <see cref="ViewCheck"/> accepted the bytes; every bound used later comes
    /// from those copies, never again from the shared memory the engine could rewrite, so a read never leaves the
    /// view whatever the engine does meanwhile (a span it rewrote reads as empty). Go: bridge/view.go.
    /// </summary>
    /// <remarks>
    /// A mutable struct, kept in a non-readonly field (HostRequest) so calls do not copy it. It knows nothing of
    /// the view's lifetime: the owner checks the view is still valid before each read.
    /// </remarks>
    internal unsafe struct RequestView
    {
        public readonly byte* Base;
        public readonly int Length;
        public readonly ushort Flags;
        public readonly byte MethodId, Minor;
        public readonly int FieldCount;
        public readonly ulong ConnId;
        public readonly long ContentLength;
        public readonly uint HeadOff, HeadLen, BodyOff, BodyLen;
        public readonly ushort RemotePort, LocalPort;
        public readonly bool HasQuery;

        /// <summary>Reads the fixed header of the length bytes at view (which ViewCheck accepted).</summary>
        public RequestView(byte* view, int length)
        {
            Base = view;
            Length = length;
            Flags = *(ushort*)(view + BridgeLayout.ViewFlagsOffset);
            MethodId = view[BridgeLayout.ViewMethodIdOffset];
            Minor = view[BridgeLayout.ViewMinorOffset];
            FieldCount = *(ushort*)(view + BridgeLayout.ViewFieldCountOffset);
            ConnId = *(ulong*)(view + BridgeLayout.ViewConnIdOffset);
            ContentLength = *(long*)(view + BridgeLayout.ViewContentLengthOffset);
            HeadOff = *(uint*)(view + BridgeLayout.ViewHeadOffOffset);
            HeadLen = *(uint*)(view + BridgeLayout.ViewHeadLenOffset);
            BodyOff = *(uint*)(view + BridgeLayout.ViewBodyOffOffset);
            BodyLen = *(uint*)(view + BridgeLayout.ViewBodyLenOffset);
            RemotePort = *(ushort*)(view + BridgeLayout.ViewRemotePortOffset);
            LocalPort = *(ushort*)(view + BridgeLayout.ViewLocalPortOffset);
            byte* query = view + BridgeLayout.ViewMethodSpanOffset + BridgeLayout.SpanQuery * BridgeLayout.SpanSize;
            HasQuery = *(uint*)(query + BridgeLayout.SpanLenOffset) != BridgeLayout.NoQuery;
            // ViewCheck accepted these, but the engine could have changed them since: the invariants that
            // keep every later read inside the view are checked again on the copies.
            if ((ulong)BridgeLayout.ViewHeaderLen + (ulong)FieldCount * BridgeLayout.FieldEntrySize > HeadOff ||
                (ulong)HeadOff + HeadLen > BodyOff || (ulong)BodyOff + BodyLen > (ulong)length)
            {
                FieldCount = 0;
                HeadOff = HeadLen = BodyOff = BodyLen = 0;
            }
        }

        /// <summary>Whether a flag of the view's flags word (BridgeLayout.View*) is set.</summary>
        public bool Has(ushort flag)
        {
            return (Flags & flag) != 0;
        }

        /// <summary>The first byte of the inline body (BodyLen bytes).</summary>
        public byte* Body
        {
            get { return Base + BodyOff; }
        }

        /// <summary>Request-line span i (BridgeLayout.Span*), within the head; empty if it no longer fits.</summary>
        public void Span(int i, out uint off, out uint len)
        {
            byte* s = Base + BridgeLayout.ViewMethodSpanOffset + i * BridgeLayout.SpanSize;
            off = *(uint*)(s + BridgeLayout.SpanOffOffset);
            len = *(uint*)(s + BridgeLayout.SpanLenOffset);
            if ((ulong)off + len > HeadLen)
            {
                off = 0;
                len = 0;
            }
        }

        /// <summary>Request-line span i as a Latin-1 string.</summary>
        public string SpanString(int i)
        {
            uint off, len;
            Span(i, out off, out len);
            return Latin1(Base + HeadOff + off, (int)len);
        }

        /// <summary>The shared string for a listed method, when the method span holds exactly it (no allocation).</summary>
        public string KnownMethod()
        {
            if (MethodId >= BridgeLayout.MethodNames.Length)
                return null;
            string name = BridgeLayout.MethodNames[MethodId];
            uint off, len;
            Span(BridgeLayout.SpanMethod, out off, out len);
            if (len != name.Length)
                return null;
            byte* p = Base + HeadOff + off;
            for (int i = 0; i < name.Length; i++)
                if (p[i] != name[i])
                    return null;
            return name;
        }

        /// <summary>
        /// The name (which = FieldNameOffset) or value (FieldValueOffset) span of header field i, within the head;
        /// empty if the engine rewrote it after validation.
        /// </summary>
        public void FieldSpan(int i, int which, out uint off, out uint len)
        {
            if ((uint)i >= (uint)FieldCount)
                throw new ArgumentOutOfRangeException("i", i, "the request has " + FieldCount + " header fields");
            byte* e = Base + BridgeLayout.ViewHeaderLen + i * BridgeLayout.FieldEntrySize + which;
            off = *(uint*)(e + BridgeLayout.SpanOffOffset);
            len = *(uint*)(e + BridgeLayout.SpanLenOffset);
            if ((ulong)off + len > HeadLen)
            {
                off = 0;
                len = 0; // read nothing rather than outside the head
            }
        }

        /// <summary>The name of header field i (interned when it is a common one).</summary>
        public string FieldName(int i)
        {
            uint off, len;
            FieldSpan(i, BridgeLayout.FieldNameOffset, out off, out len);
            return HeaderNames.Get(Base + HeadOff + off, (int)len);
        }

        /// <summary>The value of header field i (Latin-1).</summary>
        public string FieldValue(int i)
        {
            uint off, len;
            FieldSpan(i, BridgeLayout.FieldValueOffset, out off, out len);
            return Latin1(Base + HeadOff + off, (int)len);
        }

        /// <summary>The address at offset at (ViewRemoteIpOffset, ViewLocalIpOffset): IPv4-mapped as IPv4, null when all zero.</summary>
        public IPAddress Address(int at)
        {
            byte* ip = Base + at;
            bool zero = true, mapped = true;
            for (int i = 0; i < BridgeLayout.IpSize; i++)
            {
                if (ip[i] != 0)
                    zero = false;
                if (i < 10 && ip[i] != 0 || (i == 10 || i == 11) && ip[i] != 0xFF)
                    mapped = false;
            }
            if (zero)
                return null;
            if (mapped)
                return new IPAddress(new[] { ip[12], ip[13], ip[14], ip[15] });
            var bytes = new byte[BridgeLayout.IpSize];
            Marshal.Copy((IntPtr)ip, bytes, 0, BridgeLayout.IpSize);
            return new IPAddress(bytes);
        }

        /// <summary>Latin-1 bytes to a string: each byte is the code point (header bytes, RFC 9110 5.5).</summary>
        public static string Latin1(byte* p, int len)
        {
            if (len <= 0)
                return "";
            if (len == 1 && *p == (byte)'/')
                return "/"; // the root path, the most common of all: shared, no allocation
            if (len <= 512)
            {
                char* c = stackalloc char[len];
                for (int i = 0; i < len; i++)
                    c[i] = (char)p[i];
                return new string(c, 0, len);
            }
            var chars = new char[len];
            for (int i = 0; i < len; i++)
                chars[i] = (char)p[i];
            return new string(chars);
        }
    }
}
